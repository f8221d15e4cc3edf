package tables

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pvcPrinter is upstream's: the capacity and access modes shown are the
// bound volume's (status), so an unbound claim shows none.
var pvcPrinter = typed[corev1.PersistentVolumeClaim]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Status", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["phase"]),
		column("Volume", "string", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeName"]),
		column("Capacity", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["capacity"]),
		column("Access Modes", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["accessModes"]),
		column("StorageClass", "string", "StorageClass of the pvc"),
		column("VolumeAttributesClass", "string", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeAttributesClassName"]),
		ageColumn(),
		wide("VolumeMode", "string", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeMode"]),
	},
	cells: func(c *corev1.PersistentVolumeClaim) []interface{} {
		phase := string(c.Status.Phase)
		if c.DeletionTimestamp != nil {
			phase = "Terminating"
		}
		capacity, modes := "", ""
		if c.Spec.VolumeName != "" {
			modes = accessModes(c.Status.AccessModes)
			if q, ok := c.Status.Capacity[corev1.ResourceStorage]; ok {
				capacity = q.String()
			}
		}
		return []interface{}{c.Name, phase, c.Spec.VolumeName, capacity, modes, claimClass(c),
			unsetIfEmpty(c.Spec.VolumeAttributesClassName), since(c.CreationTimestamp), volumeMode(c.Spec.VolumeMode)}
	},
}

var pvPrinter = typed[corev1.PersistentVolume]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Capacity", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["capacity"]),
		column("Access Modes", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["accessModes"]),
		column("Reclaim Policy", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["persistentVolumeReclaimPolicy"]),
		column("Status", "string", corev1.PersistentVolumeStatus{}.SwaggerDoc()["phase"]),
		column("Claim", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["claimRef"]),
		column("StorageClass", "string", "StorageClass of the pv"),
		column("VolumeAttributesClass", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["volumeAttributesClassName"]),
		column("Reason", "string", corev1.PersistentVolumeStatus{}.SwaggerDoc()["reason"]),
		ageColumn(),
		wide("VolumeMode", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["volumeMode"]),
	},
	cells: func(v *corev1.PersistentVolume) []interface{} {
		claim := ""
		if v.Spec.ClaimRef != nil {
			claim = v.Spec.ClaimRef.Namespace + "/" + v.Spec.ClaimRef.Name
		}
		phase := string(v.Status.Phase)
		if v.DeletionTimestamp != nil {
			phase = "Terminating"
		}
		capacity := ""
		if q, ok := v.Spec.Capacity[corev1.ResourceStorage]; ok {
			capacity = q.String()
		}
		class := v.Spec.StorageClassName
		if a, ok := v.Annotations[corev1.BetaStorageClassAnnotation]; ok {
			class = a
		}
		return []interface{}{v.Name, capacity, accessModes(v.Spec.AccessModes), string(v.Spec.PersistentVolumeReclaimPolicy),
			phase, claim, class, unsetIfEmpty(v.Spec.VolumeAttributesClassName), v.Status.Reason,
			since(v.CreationTimestamp), volumeMode(v.Spec.VolumeMode)}
	},
}

// accessModes abbreviates like kubectl: RWO, ROX, RWX, RWOP.
func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	short := map[corev1.PersistentVolumeAccessMode]string{
		corev1.ReadWriteOnce: "RWO", corev1.ReadOnlyMany: "ROX", corev1.ReadWriteMany: "RWX", corev1.ReadWriteOncePod: "RWOP"}
	var out []string
	seen := map[string]bool{}
	for _, m := range []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod} {
		for _, have := range modes {
			if have == m && !seen[short[m]] {
				seen[short[m]] = true
				out = append(out, short[m])
			}
		}
	}
	return strings.Join(out, ",")
}

// claimClass is the claim's storage class: the beta annotation wins, as
// upstream's GetPersistentVolumeClaimClass.
func claimClass(c *corev1.PersistentVolumeClaim) string {
	if a, ok := c.Annotations[corev1.BetaStorageClassAnnotation]; ok {
		return a
	}
	if c.Spec.StorageClassName != nil {
		return *c.Spec.StorageClassName
	}
	return ""
}

func unsetIfEmpty(s *string) string {
	if s == nil || *s == "" {
		return "<unset>"
	}
	return *s
}

func volumeMode(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}
