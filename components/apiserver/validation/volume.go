package validation

import (
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// fileModeMessage is upstream's wording for defaultMode/mode errors.
const fileModeMessage = "must be a number between 0 and 0777 (octal), both inclusive"

// volumes validates a pod's volumes and returns the set of names
// volumeMounts may refer to.
func volumes(list []corev1.Volume, p *field.Path) (sets.Set[string], field.ErrorList) {
	var errs field.ErrorList
	names := sets.New[string]()
	for i := range list {
		v, idx := &list[i], p.Index(i)
		errs = append(errs, volumeSource(&v.VolumeSource, idx)...)
		if v.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
		} else {
			errs = append(errs, dns1123Label(v.Name, idx.Child("name"))...)
		}
		if names.Has(v.Name) {
			errs = append(errs, field.Duplicate(idx.Child("name"), v.Name))
		}
		if v.Name != "" {
			names.Insert(v.Name)
		}
	}
	return names, errs
}

// volumeSource: a volume is exactly one kind of storage. Only the kinds a
// kubelab kubelet can mount get detailed rules; the others are accepted as
// long as they are the only source.
func volumeSource(vs *corev1.VolumeSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	count := 0
	one := func(set bool, name string, check func(p *field.Path) field.ErrorList) {
		if !set {
			return
		}
		if count > 0 {
			errs = append(errs, field.Forbidden(p.Child(name), "may not specify more than 1 volume type"))
			return
		}
		count++
		if check != nil {
			errs = append(errs, check(p.Child(name))...)
		}
	}
	one(vs.EmptyDir != nil, "emptyDir", func(p *field.Path) field.ErrorList {
		if l := vs.EmptyDir.SizeLimit; l != nil && l.Cmp(resource.Quantity{}) < 0 {
			return field.ErrorList{field.Forbidden(p.Child("sizeLimit"), "SizeLimit field must be a valid resource quantity")}
		}
		return nil
	})
	one(vs.HostPath != nil, "hostPath", func(p *field.Path) field.ErrorList {
		if vs.HostPath.Path == "" {
			return field.ErrorList{field.Required(p.Child("path"), "")}
		}
		return noBacksteps(vs.HostPath.Path, p.Child("path"))
	})
	one(vs.Secret != nil, "secret", func(p *field.Path) field.ErrorList {
		var errs field.ErrorList
		if vs.Secret.SecretName == "" {
			errs = append(errs, field.Required(p.Child("secretName"), ""))
		}
		errs = append(errs, fileMode(vs.Secret.DefaultMode, p.Child("defaultMode"))...)
		return append(errs, keyToPaths(vs.Secret.Items, p.Child("items"))...)
	})
	one(vs.ConfigMap != nil, "configMap", func(p *field.Path) field.ErrorList {
		var errs field.ErrorList
		if vs.ConfigMap.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		errs = append(errs, fileMode(vs.ConfigMap.DefaultMode, p.Child("defaultMode"))...)
		return append(errs, keyToPaths(vs.ConfigMap.Items, p.Child("items"))...)
	})
	one(vs.PersistentVolumeClaim != nil, "persistentVolumeClaim", func(p *field.Path) field.ErrorList {
		if vs.PersistentVolumeClaim.ClaimName == "" {
			return field.ErrorList{field.Required(p.Child("claimName"), "")}
		}
		return nil
	})
	one(vs.DownwardAPI != nil, "downwardAPI", func(p *field.Path) field.ErrorList {
		return fileMode(vs.DownwardAPI.DefaultMode, p.Child("defaultMode"))
	})
	one(vs.Projected != nil, "projected", func(p *field.Path) field.ErrorList {
		return fileMode(vs.Projected.DefaultMode, p.Child("defaultMode"))
	})
	one(vs.NFS != nil, "nfs", func(p *field.Path) field.ErrorList {
		var errs field.ErrorList
		if vs.NFS.Server == "" {
			errs = append(errs, field.Required(p.Child("server"), ""))
		}
		if !path.IsAbs(vs.NFS.Path) {
			errs = append(errs, field.Invalid(p.Child("path"), vs.NFS.Path, "must be an absolute path"))
		}
		return errs
	})
	for _, other := range []setField{
		{"ephemeral", vs.Ephemeral != nil}, {"csi", vs.CSI != nil}, {"image", vs.Image != nil},
		{"iscsi", vs.ISCSI != nil}, {"fc", vs.FC != nil},
		{"gcePersistentDisk", vs.GCEPersistentDisk != nil}, {"awsElasticBlockStore", vs.AWSElasticBlockStore != nil},
		{"gitRepo", vs.GitRepo != nil}, {"glusterfs", vs.Glusterfs != nil}, {"rbd", vs.RBD != nil},
		{"flexVolume", vs.FlexVolume != nil}, {"cinder", vs.Cinder != nil}, {"cephfs", vs.CephFS != nil},
		{"flocker", vs.Flocker != nil}, {"azureFile", vs.AzureFile != nil}, {"vsphereVolume", vs.VsphereVolume != nil},
		{"quobyte", vs.Quobyte != nil}, {"azureDisk", vs.AzureDisk != nil}, {"photonPersistentDisk", vs.PhotonPersistentDisk != nil},
		{"portworxVolume", vs.PortworxVolume != nil}, {"scaleIO", vs.ScaleIO != nil}, {"storageos", vs.StorageOS != nil},
	} {
		one(other.set, other.name, nil)
	}
	if count == 0 {
		errs = append(errs, field.Required(p, "must specify a volume type"))
	}
	return errs
}

func fileMode(mode *int32, p *field.Path) field.ErrorList {
	if mode != nil && (*mode < 0 || *mode > 0o777) {
		return field.ErrorList{field.Invalid(p, *mode, fileModeMessage)}
	}
	return nil
}

// keyToPaths: the items of a secret or configMap volume project chosen keys
// to chosen relative paths inside the volume.
func keyToPaths(items []corev1.KeyToPath, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, item := range items {
		idx := p.Index(i)
		if item.Key == "" {
			errs = append(errs, field.Required(idx.Child("key"), ""))
		}
		if item.Path == "" {
			errs = append(errs, field.Required(idx.Child("path"), ""))
		} else {
			errs = append(errs, localDescendingPath(item.Path, idx.Child("path"))...)
		}
		errs = append(errs, fileMode(item.Mode, idx.Child("mode"))...)
	}
	return errs
}

// volumeMounts mirrors upstream's ValidateVolumeMounts: a mount names a
// volume of the pod and a place in the container, and two mounts cannot
// share a place.
func volumeMounts(mounts []corev1.VolumeMount, vols sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := sets.New[string]()
	for i, m := range mounts {
		idx := p.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
		}
		if !vols.Has(m.Name) {
			errs = append(errs, field.NotFound(idx.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(idx.Child("mountPath"), ""))
		}
		if paths.Has(m.MountPath) {
			errs = append(errs, field.Invalid(idx.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths.Insert(m.MountPath)
		if m.SubPath != "" {
			errs = append(errs, localDescendingPath(m.SubPath, p.Child("subPath"))...)
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				errs = append(errs, field.Invalid(idx.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			errs = append(errs, localDescendingPath(m.SubPathExpr, p.Child("subPathExpr"))...)
		}
		if m.MountPropagation != nil {
			errs = append(errs, oneOf(string(*m.MountPropagation), idx.Child("mountPropagation"),
				string(corev1.MountPropagationNone), string(corev1.MountPropagationHostToContainer), string(corev1.MountPropagationBidirectional))...)
		}
	}
	return errs
}

// localDescendingPath: a path that stays inside the volume (relative, no "..").
func localDescendingPath(target string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(target) {
		errs = append(errs, field.Invalid(p, target, "must be a relative path"))
	}
	return append(errs, noBacksteps(target, p)...)
}

func noBacksteps(target string, p *field.Path) field.ErrorList {
	for _, part := range strings.Split(target, "/") {
		if part == ".." {
			return field.ErrorList{field.Invalid(p, target, "must not contain '..'")}
		}
	}
	return nil
}
