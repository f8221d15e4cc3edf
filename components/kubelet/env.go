package kubelet

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"

	"github.com/kubelab/kubelab/components/kubelet/containerenv"
	"github.com/kubelab/kubelab/components/kubelet/images"
)

// envSource answers containerenv's lookups: ConfigMaps and Secrets are read
// from the API server when a container starts (always the current value,
// like the kubelet's default "Get" strategy); Services come from an
// informer, for the FOO_SERVICE_HOST variables.
type envSource struct {
	k        *Kubelet
	services corelisters.ServiceLister
}

func newEnvSource(k *Kubelet) *envSource { return &envSource{k: k} }

func (e *envSource) start(f informers.SharedInformerFactory) {
	e.services = f.Core().V1().Services().Lister()
}

func (e *envSource) ConfigMap(namespace, name string) (*corev1.ConfigMap, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.k.kube.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (e *envSource) Secret(namespace, name string) (*corev1.Secret, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.k.kube.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (e *envSource) Services(namespace string) ([]*corev1.Service, error) {
	if e.services == nil {
		return nil, nil
	}
	return e.services.Services(namespace).List(labels.Everything())
}

// buildEnv resolves a container's environment and argv.
func (k *Kubelet) buildEnv(_ context.Context, st *podState, pod *corev1.Pod, c *corev1.Container, img *images.Image) ([]string, []string, error) {
	o := containerenv.Options{
		Pod: pod, Container: c,
		HostIPs:         []string{k.nodeIP.String()},
		NodeAllocatable: allocatable(machineCapacity(&k.o), k.o.SystemReserved, k.o.KubeReserved),
		Lookup:          k.env,
	}
	for _, ip := range st.ips {
		o.PodIPs = append(o.PodIPs, ip.String())
	}
	res, err := containerenv.Environment(o)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range res.Warnings {
		k.event(pod, corev1.EventTypeWarning, "InvalidEnvironmentVariableNames", "%s", w)
	}
	argv, err := containerenv.Argv(img.Config.Entrypoint, img.Config.Cmd, c, res.Env)
	if err != nil {
		return nil, nil, err
	}
	env := containerenv.Strings(img.Config.Env, res.Env)
	// HOSTNAME, as every container runtime sets it.
	env = append([]string{"HOSTNAME=" + podHostname(pod)}, env...)
	return argv, env, nil
}
