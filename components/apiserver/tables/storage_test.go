package tables

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPersistentVolumeClaim(t *testing.T) {
	p := For(corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"))
	assertColumns(t, p, "Name:string", "Status:string", "Volume:string", "Capacity:string", "Access Modes:string",
		"StorageClass:string", "VolumeAttributesClass:string", "Age:string", "VolumeMode:string:wide")
	pending := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "www-web-0", CreationTimestamp: ago(5 * time.Minute)},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr("my-storage-class"), VolumeMode: ptr(corev1.PersistentVolumeFilesystem)},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	assertCells(t, p, pending, "www-web-0", "Pending", "", "", "", "my-storage-class", "<unset>", "5m", "Filesystem")

	bound := pending.DeepCopy()
	bound.Spec.VolumeName = "pv-1"
	bound.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce},
		Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}
	assertCells(t, p, bound, "www-web-0", "Bound", "pv-1", "1Gi", "RWO,RWX", "my-storage-class", "<unset>", "5m", "Filesystem")
}

func TestPersistentVolume(t *testing.T) {
	p := For(corev1.SchemeGroupVersion.WithKind("PersistentVolume"))
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-1", CreationTimestamp: ago(time.Hour)},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain, StorageClassName: "manual",
			ClaimRef: &corev1.ObjectReference{Namespace: "default", Name: "task-pv-claim"}},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
	}
	assertCells(t, p, pv, "pv-1", "10Gi", "RWO", "Retain", "Bound", "default/task-pv-claim", "manual", "<unset>", "", "60m", "<unset>")
}
