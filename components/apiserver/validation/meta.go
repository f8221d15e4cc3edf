package validation

import (
	"fmt"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The kinds whose rules differ from the common case.
var (
	kindNamespace          = schema.GroupKind{Kind: "Namespace"}
	kindService            = schema.GroupKind{Kind: "Service"}
	kindStatefulSet        = schema.GroupKind{Group: "apps", Kind: "StatefulSet"}
	kindCronJob            = schema.GroupKind{Group: "batch", Kind: "CronJob"}
	kindRole               = schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "Role"}
	kindClusterRole        = schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}
	kindRoleBinding        = schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}
	kindClusterRoleBinding = schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}
	kindHPA                = schema.GroupKind{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}
)

// NameRule returns the metadata.name validator for a kind.
//
// Most objects only need a name that can appear in a URL and a DNS
// subdomain (253 characters, lowercase, dots allowed). Some kinds are
// stricter because their name ends up somewhere stricter:
//
//   - Namespace: a DNS label (it is one label of svc.<ns>.svc.cluster.local);
//   - Service: an RFC 1035 label, which must also start with a letter (it
//     becomes a DNS name and the prefix of environment variables);
//   - StatefulSet: a DNS label (pods are named <name>-<ordinal> and use it
//     as their hostname);
//   - CronJob: a subdomain of at most 52 characters (the controller appends
//     an 11-character suffix to name its Jobs).
//
// And some are looser: RBAC objects and HorizontalPodAutoscalers only need
// a valid path segment, which is how "system:controller:deployment-controller"
// can be a ClusterRole name. Nodes use the subdomain rule.
func NameRule(gvk schema.GroupVersionKind) apimachineryvalidation.ValidateNameFunc {
	switch gvk.GroupKind() {
	case kindNamespace:
		return apimachineryvalidation.ValidateNamespaceName
	case kindService:
		return apimachineryvalidation.NameIsDNS1035Label
	case kindStatefulSet:
		return apimachineryvalidation.NameIsDNSLabel
	case kindCronJob:
		return cronJobName
	case kindRole, kindClusterRole, kindRoleBinding, kindClusterRoleBinding, kindHPA:
		return path.ValidatePathSegmentName
	}
	return apimachineryvalidation.NameIsDNSSubdomain
}

// cronJobMaxNameLength leaves room for the "-<minutes since epoch>" suffix of
// the Jobs it creates inside the 63 characters of a label value.
const cronJobMaxNameLength = 52

func cronJobName(name string, prefix bool) []string {
	msgs := apimachineryvalidation.NameIsDNSSubdomain(name, prefix)
	if !prefix && len(name) > cronJobMaxNameLength {
		msgs = append(msgs, fmt.Sprintf("must be no more than %d characters", cronJobMaxNameLength))
	}
	return msgs
}

// clusterScoped lists the built-in kinds that live outside namespaces; every
// other built-in kind must have one.
var clusterScoped = map[schema.GroupKind]bool{
	{Kind: "Namespace"}:        true,
	{Kind: "Node"}:             true,
	{Kind: "PersistentVolume"}: true,
	{Kind: "ComponentStatus"}:  true,
	kindClusterRole:            true,
	kindClusterRoleBinding:     true,
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:                 true,
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:                             true,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                               true,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                                   true,
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:                                      true,
	{Group: "storage.k8s.io", Kind: "CSINode"}:                                        true,
	{Group: "storage.k8s.io", Kind: "VolumeAttachment"}:                               true,
	{Group: "storage.k8s.io", Kind: "VolumeAttributesClass"}:                          true,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                                true,
	{Group: "networking.k8s.io", Kind: "IPAddress"}:                                   true,
	{Group: "networking.k8s.io", Kind: "ServiceCIDR"}:                                 true,
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:                                      true,
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}:                 true,
	{Group: "certificates.k8s.io", Kind: "ClusterTrustBundle"}:                        true,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "FlowSchema"}:                       true,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "PriorityLevelConfiguration"}:       true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:     true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}:   true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:        true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding"}: true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicy"}:          true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicyBinding"}:   true,
	{Group: "authentication.k8s.io", Kind: "TokenReview"}:                             true,
	{Group: "authentication.k8s.io", Kind: "SelfSubjectReview"}:                       true,
	{Group: "authorization.k8s.io", Kind: "SubjectAccessReview"}:                      true,
	{Group: "authorization.k8s.io", Kind: "SelfSubjectAccessReview"}:                  true,
	{Group: "authorization.k8s.io", Kind: "SelfSubjectRulesReview"}:                   true,
	{Group: "resource.k8s.io", Kind: "DeviceClass"}:                                   true,
	{Group: "resource.k8s.io", Kind: "ResourceSlice"}:                                 true,
	{Group: "storagemigration.k8s.io", Kind: "StorageVersionMigration"}:               true,
	{Group: "internal.apiserver.k8s.io", Kind: "StorageVersion"}:                      true,
}

var metadataPath = field.NewPath("metadata")

// objectMeta validates the metadata of a new object of a known kind: the
// name (by the kind's rule), the namespace (required or forbidden by scope),
// labels, annotations (256 KiB in total), owner references and finalizers.
func objectMeta(m *metav1.ObjectMeta, kind schema.GroupKind) field.ErrorList {
	return apimachineryvalidation.ValidateObjectMeta(m, !clusterScoped[kind], NameRule(kind.WithVersion("")), metadataPath)
}

// metaUpdate validates the metadata fields an update may not change. The
// registry copies most of them from the stored object anyway; checking again
// is cheap and keeps this package correct on its own. Labels and annotations
// are checked by Create's rules, which Update also runs.
func metaUpdate(newMeta, oldMeta metav1.Object) field.ErrorList {
	var errs field.ErrorList
	// An object on its way out may lose finalizers but not gain them, or
	// deletion could be postponed forever.
	if oldMeta.GetDeletionTimestamp() != nil {
		errs = append(errs, apimachineryvalidation.ValidateNoNewFinalizers(newMeta.GetFinalizers(), oldMeta.GetFinalizers(), metadataPath.Child("finalizers"))...)
	}
	if newMeta.GetResourceVersion() == "" {
		errs = append(errs, field.Invalid(metadataPath.Child("resourceVersion"), "", "must be specified for an update"))
	}
	if newMeta.GetGeneration() < oldMeta.GetGeneration() {
		errs = append(errs, field.Invalid(metadataPath.Child("generation"), newMeta.GetGeneration(), "must not be decremented"))
	}
	immutable := func(name string, newValue, oldValue any) {
		errs = append(errs, apimachineryvalidation.ValidateImmutableField(newValue, oldValue, metadataPath.Child(name))...)
	}
	immutable("name", newMeta.GetName(), oldMeta.GetName())
	immutable("namespace", newMeta.GetNamespace(), oldMeta.GetNamespace())
	immutable("uid", newMeta.GetUID(), oldMeta.GetUID())
	immutable("creationTimestamp", newMeta.GetCreationTimestamp(), oldMeta.GetCreationTimestamp())
	immutable("deletionTimestamp", newMeta.GetDeletionTimestamp(), oldMeta.GetDeletionTimestamp())
	immutable("deletionGracePeriodSeconds", newMeta.GetDeletionGracePeriodSeconds(), oldMeta.GetDeletionGracePeriodSeconds())
	return errs
}
