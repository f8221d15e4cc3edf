// Package images is the kubelet's image store: the box between "the pod
// spec names an image" and "the runtime mounts an overlayfs rootfs".
//
//	registry ──remote.Get──┐
//	docker save / OCI tar ─┼─► v1.Image ──► one layer at a time, keyed by diffID:
//	kit-built image (Put) ─┘                 tar stream ─► <root>/tmp/layer-*/fs
//	                                          (whiteouts become overlay markers)
//	                                          ─rename─► <root>/layers/<hex>/fs
//	                                   config ─► <root>/configs/<hex>.json
//	                                   refs, tags, last use ─► <root>/index.json
//
// Each layer is unpacked once, into a directory that every container of
// every image sharing that layer uses as an overlayfs lowerdir, so a layer
// is never copied per container. The unpacked directory is exactly what
// overlayfs expects of a lower layer: OCI whiteouts (".wh.name") become 0/0
// character devices and opaque markers (".wh..wh..opq") become the
// trusted.overlay.opaque=y xattr. Unpacking happens in a temporary
// directory renamed into place, so a crash never leaves half a layer.
//
// The index (references → image ID → layers) is JSON written atomically, so
// the store survives kubelet restarts. Ensure implements the pod's
// imagePullPolicy and returns errors the kubelet turns into container
// waiting reasons (see Reason).
package images
