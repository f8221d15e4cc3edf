// Package box is the directory of the offline Vagrant box builder:
// build.sh makes the kubelab Debian 12 box for Vagrant's libvirt provider
// from Debian's packages alone (debootstrap, a loop-mounted disk, GRUB,
// qemu-img), and lib.sh holds its pure parts, the functions that only print
// file contents (metadata.json, grub.cfg, fstab, ...) or check arguments.
//
// The Go package holds no code of its own: it only has the tests of that
// shell library (box_test.go), so `go test ./...` checks the builder's
// output formats and argument checks without root and in about a second.
// The real build needs root and minutes; see README.md.
package box
