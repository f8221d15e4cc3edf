package defaults

import (
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/utils/ptr"
)

// customResourceDefinition mirrors SetDefaults_CustomResourceDefinition
// (apiextensions-apiserver pkg/apis/apiextensions/v1/defaults.go) and the
// CRD strategy: the names a user may leave out are derived from kind, and the
// storage version is recorded in status.storedVersions, the list of versions
// objects may exist in inside etcd.
func customResourceDefinition(crd *apiextensionsv1.CustomResourceDefinition) {
	names := &crd.Spec.Names
	if names.Singular == "" {
		names.Singular = strings.ToLower(names.Kind)
	}
	if names.ListKind == "" && names.Kind != "" {
		names.ListKind = names.Kind + "List"
	}
	if crd.Spec.Conversion == nil {
		crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.NoneConverter}
	}
	if w := crd.Spec.Conversion.Webhook; w != nil && w.ClientConfig != nil && w.ClientConfig.Service != nil && w.ClientConfig.Service.Port == nil {
		w.ClientConfig.Service.Port = ptr.To[int32](443)
	}
	// The CRD strategy records a new storage version on create and on
	// update: from now on objects may exist in etcd in that version, and the
	// older entries stay until a migration rewrites every object.
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			if !slices.Contains(crd.Status.StoredVersions, v.Name) {
				crd.Status.StoredVersions = append(crd.Status.StoredVersions, v.Name)
			}
			break
		}
	}
}
