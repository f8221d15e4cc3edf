package kubelet

import (
	"context"
	"fmt"

	"github.com/kubelab/kubelab/components/kubelet/runtime"
	"github.com/kubelab/kubelab/components/kubelet/server"
)

// Attach implements server.Attacher (`kubectl attach`, `kubectl run -it`):
// it finds the container's running attempt as Exec does and connects the
// streams to its main process through the runtime (the container's monitor
// owns its stdio). A container without stdin: true only shows its output.
func (k *Kubelet) Attach(ctx context.Context, namespace, name, uid, container string, cfg runtime.ExecConfig) error {
	pod, attempts, err := k.findContainer(namespace, name, container)
	if err != nil {
		return err
	}
	if uid != "" && string(pod.UID) != uid {
		return fmt.Errorf("pod %q with UID %s: %w", name, uid, server.ErrNotFound)
	}
	if len(attempts) == 0 || attempts[len(attempts)-1].State != runtime.StateRunning {
		return fmt.Errorf("container %q in pod %q is not running", container, name)
	}
	return k.rt.Attach(ctx, attempts[len(attempts)-1].ID, cfg)
}
