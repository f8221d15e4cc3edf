// Package builtin builds the images the kit makes for itself, so labs and
// tests never need the internet:
//
//	localhost/kubelab/busybox:v1      Debian's static busybox and its applet links
//	localhost/kubelab/testserver:v1   the same busybox layer + /testserver (cmd/testserver)
//
// It sits beside the kubelet's image store on the picture: it produces
// go-containerregistry v1.Images (or a docker-save archive of them) that the
// store loads like any pulled or `kubelab image load`-ed image.
//
//	/usr/bin/busybox ──┐                          ┌─> map[ref]v1.Image ──> kubelet image store
//	                   ├─> deterministic tar ──> image
//	bin/testserver ────┘    layers (in memory)    └─> WriteArchive ──> images.tar (docker save format)
//
// Every build of the same inputs gives the same bytes: entries sorted, every
// timestamp the Unix epoch, owner root, and no host path in the config. So
// the image ID is stable across machines and rebuilds, and the testserver
// image shares its busybox layer, digest for digest, with the busybox image.
//
// This package deliberately does not import the kubelet's images package:
// it only makes images; storing them is the store's business.
package builtin
