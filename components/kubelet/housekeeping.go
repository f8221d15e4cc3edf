package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/kubelab/kubelab/components/kubelet/images/builtin"
)

// housekeeping is the kubelet's slow loop: report the node's images, and
// collect unused images when the disk fills.
func (k *Kubelet) housekeeping(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The kit's own images are pinned in the store (see New), so GC
		// only needs the images of the node's containers.
		inUse := map[string]bool{}
		if sbs, err := k.rt.ListSandboxes(); err == nil {
			for _, sb := range sbs {
				cs, _ := k.rt.ListContainers(sb.PodUID)
				for _, c := range cs {
					if img, ok := k.images.Get(c.Image); ok {
						inUse[img.ID] = true
					}
				}
			}
		}
		if freed, err := k.images.GC(inUse, k.o.ImageGCHighThresholdPercent, k.o.ImageGCLowThresholdPercent); err != nil {
			slog.Warn("image garbage collection failed", "err", err)
		} else if freed > 0 {
			slog.Info("image garbage collection freed space", "bytes", freed)
		}
		k.node.setImages(k.nodeImages())
	}
}

// nodeImages is node.status.images: every image on the node with its names
// (tags and digests) and size, largest first like the kubelet (capped at 50).
func (k *Kubelet) nodeImages() []corev1.ContainerImage {
	var out []corev1.ContainerImage
	for _, img := range k.images.List() {
		out = append(out, corev1.ContainerImage{Names: img.Names(), SizeBytes: img.Size})
	}
	if len(out) > 50 {
		out = out[:50]
	}
	return out
}

// preloadImages puts the kit's own images (busybox, testserver) into the
// store, so labs and tests run pods with no registry.
func (k *Kubelet) preloadImages(ctx context.Context) error {
	opts := builtin.Options{BusyboxPath: k.o.BusyboxPath, TestServerBinary: k.o.TestServerBinary}
	if opts.TestServerBinary == "" {
		if p, err := builtin.FindTestServerBinary(); err == nil {
			opts.TestServerBinary = p
		}
	}
	imgs, err := builtin.All(opts)
	if errors.Is(err, builtin.ErrTestServerNotFound) {
		// Busybox alone still makes the node useful offline.
		slog.Warn("no testserver binary: "+builtin.TestServerRef+" will be missing on this node", "err", err)
		var bb v1.Image
		if bb, err = builtin.Busybox(opts.BusyboxPath); err == nil {
			imgs = map[string]v1.Image{builtin.BusyboxRef: bb}
		}
	}
	if err != nil {
		return fmt.Errorf("build the kit's images: %w", err)
	}
	for ref, img := range imgs {
		if _, err := k.images.Put(ctx, ref, img); err != nil {
			return fmt.Errorf("import %s: %w", ref, err)
		}
	}
	return nil
}

// newRecorder sends events as "kubelet" from this node, so `kubectl
// describe pod` shows Pulling/Pulled/Created/Started/Killing/BackOff.
func newRecorder(ctx context.Context, kube kubernetes.Interface, node string) record.EventRecorder {
	b := record.NewBroadcaster(record.WithContext(ctx))
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	return b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: node})
}

func (k *Kubelet) event(pod *corev1.Pod, typ, reason, format string, args ...any) {
	if k.recorder == nil || pod == nil {
		return
	}
	k.recorder.Eventf(pod, typ, reason, format, args...)
}
