package validation

import (
	"encoding/json"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ConfigMaps and Secrets become files in a volume and environment
// variables, so their keys must be valid file names (IsConfigMapKey:
// letters, digits, '-', '_', '.'). Both are capped at 1 MiB, the size etcd
// handles comfortably as one value.

// configMap mirrors upstream's ValidateConfigMap.
func configMap(cm *corev1.ConfigMap) field.ErrorList {
	errs := objectMeta(&cm.ObjectMeta, schema.GroupKind{Kind: "ConfigMap"})
	size := 0
	for _, key := range sortedKeys(cm.Data) {
		kp := field.NewPath("data").Key(key)
		errs = append(errs, messages(key, kp, utilvalidation.IsConfigMapKey(key))...)
		if _, dup := cm.BinaryData[key]; dup {
			errs = append(errs, field.Invalid(kp, key, "duplicate of key present in binaryData"))
		}
		size += len(cm.Data[key])
	}
	for _, key := range sortedKeys(cm.BinaryData) {
		errs = append(errs, messages(key, field.NewPath("binaryData").Key(key), utilvalidation.IsConfigMapKey(key))...)
		size += len(cm.BinaryData[key])
	}
	if size > corev1.MaxSecretSize {
		// Upstream reports the whole object, with an empty path.
		errs = append(errs, field.TooLong(field.NewPath(""), "", corev1.MaxSecretSize))
	}
	return errs
}

// secret mirrors upstream's ValidateSecret, including the keys each
// well-known type needs.
func secret(s *corev1.Secret) field.ErrorList {
	errs := objectMeta(&s.ObjectMeta, schema.GroupKind{Kind: "Secret"})
	dataPath := field.NewPath("data")
	size := 0
	for _, key := range sortedKeys(s.Data) {
		errs = append(errs, messages(key, dataPath.Key(key), utilvalidation.IsConfigMapKey(key))...)
		size += len(s.Data[key])
	}
	if size > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(dataPath, "", corev1.MaxSecretSize))
	}
	required := func(key string) {
		if _, ok := s.Data[key]; !ok {
			errs = append(errs, field.Required(dataPath.Key(key), ""))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(metadataPath.Child("annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		required(corev1.DockerConfigKey)
		errs = append(errs, jsonValue(s.Data, corev1.DockerConfigKey, dataPath)...)
	case corev1.SecretTypeDockerConfigJson:
		required(corev1.DockerConfigJsonKey)
		errs = append(errs, jsonValue(s.Data, corev1.DockerConfigJsonKey, dataPath)...)
	case corev1.SecretTypeBasicAuth:
		_, user := s.Data[corev1.BasicAuthUsernameKey]
		_, pass := s.Data[corev1.BasicAuthPasswordKey]
		if !user && !pass {
			errs = append(errs, field.Required(dataPath.Key(corev1.BasicAuthUsernameKey), ""),
				field.Required(dataPath.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		if len(s.Data[corev1.SSHAuthPrivateKey]) == 0 {
			errs = append(errs, field.Required(dataPath.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		required(corev1.TLSCertKey)
		required(corev1.TLSPrivateKeyKey)
	}
	// Opaque and user-defined types have no required keys.
	return errs
}

func jsonValue(data map[string][]byte, key string, dataPath *field.Path) field.ErrorList {
	v, ok := data[key]
	if !ok {
		return nil
	}
	var out map[string]any
	if err := json.Unmarshal(v, &out); err != nil {
		return field.ErrorList{field.Invalid(dataPath.Key(key), "<secret contents redacted>", err.Error())}
	}
	return nil
}

// configMapUpdate: `immutable: true` is a one-way door. An immutable
// ConfigMap's data is fixed (kubelets stop watching it, which is the point),
// and it cannot be made mutable again.
func configMapUpdate(newCM, oldCM *corev1.ConfigMap) field.ErrorList {
	if oldCM.Immutable == nil || !*oldCM.Immutable {
		return nil
	}
	var errs field.ErrorList
	if newCM.Immutable == nil || !*newCM.Immutable {
		errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
	}
	if !equality.Semantic.DeepEqual(newCM.Data, oldCM.Data) {
		errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
	}
	if !equality.Semantic.DeepEqual(newCM.BinaryData, oldCM.BinaryData) {
		errs = append(errs, field.Forbidden(field.NewPath("binaryData"), "field is immutable when `immutable` is set"))
	}
	return errs
}

// secretUpdate: a Secret's type never changes, and immutable Secrets work
// like immutable ConfigMaps.
func secretUpdate(newS, oldS *corev1.Secret) field.ErrorList {
	errs := apimachineryvalidation.ValidateImmutableField(newS.Type, oldS.Type, field.NewPath("type"))
	if oldS.Immutable == nil || !*oldS.Immutable {
		return errs
	}
	if newS.Immutable == nil || !*newS.Immutable {
		errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
	}
	if !equality.Semantic.DeepEqual(newS.Data, oldS.Data) {
		errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
	}
	return errs
}

// sortedKeys keeps error lists in a stable order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
