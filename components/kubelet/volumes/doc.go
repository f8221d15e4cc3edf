// Package volumes is the kubelet's volume manager box: it makes a pod's
// volumes exist on the node before its containers start, and tells the
// runtime what to bind-mount where.
//
//	pod.spec.volumes ──► Manager.SetUp ──► <root>/pods/<uid>/volumes/<kind>/<name>
//	     ConfigMaps/Secrets (Source),        (emptyDir dirs, tmpfs for Memory
//	     tokens (TokenSource)                 emptyDirs/secrets/projected,
//	                                          atomically written files)
//	                                       └► Volumes.Paths[name] = host path
//	container.volumeMounts + Paths ──► Mounts ──► []runtime.Mount (bind mounts)
//	pod deleted ──► Manager.TearDown ──► tmpfs unmounted, directories removed
//
// Directory names follow upstream ("kubernetes.io~empty-dir",
// "kubernetes.io~configmap", …) so a student can compare with a real node.
// ConfigMap, Secret, downwardAPI and projected volumes use the upstream
// atomic-writer layout: files live in a timestamped directory, "..data"
// points at it, and the visible names are symlinks through "..data", so an
// update (Refresh) swaps every file at once with one rename.
package volumes
