package kubelet

import (
	"context"

	"github.com/kubelab/kubelab/components/kubelet/runtime"
)

// Attach implements server.Attacher (`kubectl attach`, `kubectl run -it`):
// it finds the container's running attempt as Exec does and connects the
// streams to its main process through the runtime (the container's monitor
// owns its stdio). A container without stdin: true only shows its output.
func (k *Kubelet) Attach(ctx context.Context, namespace, name, uid, container string, cfg runtime.ExecConfig) error {
	id, err := k.runningContainer(namespace, name, uid, container)
	if err != nil {
		return err
	}
	return k.rt.Attach(ctx, id, cfg)
}
