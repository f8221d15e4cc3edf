package kubelet

import (
	"context"
	"path/filepath"

	"github.com/kubelab/kubelab/components/kubelet/server"
)

// The kubelet API's image endpoints (server.ImageHost), which
// `kubelab image load` and `kubelab image ls` use.

var _ server.ImageHost = (*Kubelet)(nil)

// ImageSpoolDir is the image store's own temporary directory: on the same
// disk as the layers the archive unpacks into, and emptied by the store
// when the kubelet starts, so an upload cut short by a crash is not kept.
func (k *Kubelet) ImageSpoolDir() string {
	return filepath.Join(k.o.RootDir, "images", "tmp")
}

// LoadImages imports an archive into the store and reports the new images
// in node status right away (rather than at the next housekeeping), so
// `kubectl get node -o yaml` shows them when the command returns.
func (k *Kubelet) LoadImages(ctx context.Context, archivePath string) ([]string, error) {
	loaded, err := k.images.Load(ctx, archivePath)
	if len(loaded) > 0 {
		k.node.setImages(k.nodeImages())
		k.node.poke()
	}
	return loaded, err
}

// Images lists the store's images, most recently used first.
func (k *Kubelet) Images() []server.ImageInfo {
	list := k.images.List()
	out := make([]server.ImageInfo, 0, len(list))
	for _, img := range list {
		out = append(out, server.ImageInfo{Names: img.Names(), ID: img.ID, Size: img.Size})
	}
	return out
}
