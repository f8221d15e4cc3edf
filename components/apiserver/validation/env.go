package validation

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// downwardEnvFields are the pod fields an environment variable may read
// through valueFrom.fieldRef (besides metadata.labels['k'] and
// metadata.annotations['k']).
var downwardEnvFields = sets.New(
	"metadata.name", "metadata.namespace", "metadata.uid",
	"spec.nodeName", "spec.serviceAccountName",
	"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
)

// containerResourceFields may be read through valueFrom.resourceFieldRef.
var containerResourceFields = sets.New(
	"limits.cpu", "limits.memory", "limits.ephemeral-storage",
	"requests.cpu", "requests.memory", "requests.ephemeral-storage",
)

// env mirrors upstream's ValidateEnv. Names follow the relaxed rule (any
// printable ASCII but '='), which upstream has enforced since
// RelaxedEnvironmentVariableValidation went GA.
func env(vars []corev1.EnvVar, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range vars {
		idx := p.Index(i)
		if ev.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
		} else {
			errs = append(errs, messages(ev.Name, idx.Child("name"), utilvalidation.IsRelaxedEnvVarName(ev.Name))...)
		}
		errs = append(errs, envValueFrom(ev, idx.Child("valueFrom"))...)
	}
	return errs
}

func envValueFrom(ev corev1.EnvVar, p *field.Path) field.ErrorList {
	from := ev.ValueFrom
	if from == nil {
		return nil
	}
	var errs field.ErrorList
	sources := 0
	if from.FieldRef != nil {
		sources++
		errs = append(errs, fieldRef(from.FieldRef, p.Child("fieldRef"))...)
	}
	if from.ResourceFieldRef != nil {
		sources++
		rp := p.Child("resourceFieldRef")
		switch r := from.ResourceFieldRef.Resource; {
		case r == "":
			errs = append(errs, field.Required(rp.Child("resource"), ""))
		case !containerResourceFields.Has(r) && !strings.HasPrefix(r, "limits.hugepages-") && !strings.HasPrefix(r, "requests.hugepages-"):
			errs = append(errs, field.NotSupported(rp.Child("resource"), r, sets.List(containerResourceFields)))
		}
	}
	if from.ConfigMapKeyRef != nil {
		sources++
		errs = append(errs, keySelector(from.ConfigMapKeyRef.Name, from.ConfigMapKeyRef.Key, p.Child("configMapKeyRef"))...)
	}
	if from.SecretKeyRef != nil {
		sources++
		errs = append(errs, keySelector(from.SecretKeyRef.Name, from.SecretKeyRef.Key, p.Child("secretKeyRef"))...)
	}
	if from.FileKeyRef != nil {
		sources++
	}
	switch {
	case sources == 0:
		errs = append(errs, field.Invalid(p, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	case ev.Value != "":
		errs = append(errs, field.Invalid(p, "", "may not be specified when `value` is not empty"))
	case sources > 1:
		errs = append(errs, field.Invalid(p, "", "may not have more than one field specified at a time"))
	}
	return errs
}

// fieldRef: the downward API exposes a fixed set of pod fields.
func fieldRef(ref *corev1.ObjectFieldSelector, p *field.Path) field.ErrorList {
	if ref.APIVersion == "" {
		return field.ErrorList{field.Required(p.Child("apiVersion"), "")}
	}
	if ref.FieldPath == "" {
		return field.ErrorList{field.Required(p.Child("fieldPath"), "")}
	}
	if ref.APIVersion != "v1" {
		return field.ErrorList{field.Invalid(p.Child("fieldPath"), ref.FieldPath,
			"error converting fieldPath: unsupported pod version: "+ref.APIVersion)}
	}
	// metadata.labels['app'] reads one label.
	if path, subscript, ok := splitSubscript(ref.FieldPath); ok {
		switch path {
		case "metadata.annotations":
			return qualifiedName(strings.ToLower(subscript), p)
		case "metadata.labels":
			return qualifiedName(subscript, p)
		}
		return field.ErrorList{field.Invalid(p, path, "does not support subscript")}
	}
	if !downwardEnvFields.Has(ref.FieldPath) {
		return field.ErrorList{field.NotSupported(p.Child("fieldPath"), ref.FieldPath, sets.List(downwardEnvFields))}
	}
	return nil
}

// splitSubscript splits "metadata.labels['app']" into "metadata.labels" and "app".
func splitSubscript(fieldPath string) (string, string, bool) {
	if !strings.HasSuffix(fieldPath, "']") {
		return fieldPath, "", false
	}
	path, subscript, ok := strings.Cut(strings.TrimSuffix(fieldPath, "']"), "['")
	if !ok || path == "" || subscript == "" {
		return fieldPath, "", false
	}
	return path, subscript, true
}

// keySelector validates a configMapKeyRef or secretKeyRef.
func keySelector(name, key string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, messages(name, p.Child("name"), apimachineryvalidation.NameIsDNSSubdomain(name, false))...)
	if key == "" {
		errs = append(errs, field.Required(p.Child("key"), ""))
	} else {
		errs = append(errs, messages(key, p.Child("key"), utilvalidation.IsConfigMapKey(key))...)
	}
	return errs
}

// envFrom mirrors upstream's ValidateEnvFrom: each entry imports one whole
// ConfigMap or Secret.
func envFrom(list []corev1.EnvFromSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ef := range list {
		idx := p.Index(i)
		if ef.Prefix != "" {
			errs = append(errs, messages(ef.Prefix, idx.Child("prefix"), utilvalidation.IsRelaxedEnvVarName(ef.Prefix))...)
		}
		sources := 0
		if ef.ConfigMapRef != nil {
			sources++
			errs = append(errs, refName(ef.ConfigMapRef.Name, idx.Child("configMapRef", "name"))...)
		}
		if ef.SecretRef != nil {
			sources++
			errs = append(errs, refName(ef.SecretRef.Name, idx.Child("secretRef", "name"))...)
		}
		switch {
		case sources == 0:
			errs = append(errs, field.Invalid(p, "", "must specify one of: `configMapRef` or `secretRef`"))
		case sources > 1:
			errs = append(errs, field.Invalid(p, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

// refName: a reference to a ConfigMap or Secret by name.
func refName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return messages(name, p, apimachineryvalidation.NameIsDNSSubdomain(name, false))
}
