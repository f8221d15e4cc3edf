package podstatus

import (
	"time"

	"github.com/kubelab/kubelab/components/kubelet/runtime"
	corev1 "k8s.io/api/core/v1"
)

// Waiting reasons the kubelet reports for containers that are not running.
// They are the strings upstream uses, so kubectl's STATUS column reads the
// same.
const (
	ReasonContainerCreating          = "ContainerCreating"
	ReasonPodInitializing            = "PodInitializing"
	ReasonErrImagePull               = "ErrImagePull"
	ReasonImagePullBackOff           = "ImagePullBackOff"
	ReasonCrashLoopBackOff           = "CrashLoopBackOff"
	ReasonCreateContainerConfigError = "CreateContainerConfigError"
	ReasonCreateContainerError       = "CreateContainerError"
	ReasonRunContainerError          = "RunContainerError"
)

// ContainerIDPrefix is the runtime-type prefix of containerID fields
// ("containerd://…" upstream).
const ContainerIDPrefix = "kubelab://"

// Waiting is a reason the kubelet knows a container is not running (the
// upstream "reason cache"): the last start failure or back-off.
type Waiting struct {
	Reason  string
	Message string
}

// Probe is what the prober has concluded for one container.
type Probe struct {
	// Started: the startup probe succeeded (or there is none).
	Started bool
	// Ready: the readiness probe succeeded (or there is none and the
	// container has started).
	Ready bool
}

// Input is everything Compute needs. Only Pod is required.
type Input struct {
	Pod *corev1.Pod
	// Containers are the runtime's records for this pod, every attempt of
	// every container, in any order.
	Containers []runtime.ContainerStatus
	// Waiting holds, per container name, why the kubelet could not start it
	// (ErrImagePull, CrashLoopBackOff, CreateContainerConfigError, …).
	Waiting map[string]Waiting
	// Probes holds prober results per container name. A container missing
	// here gets the defaults of a container without probes: started and
	// ready once running, unless the spec declares a startup or readiness
	// probe, in which case it is not started / not ready.
	Probes map[string]Probe
	// Old is the last status the kubelet computed or the apiserver holds
	// (pod.Status if nil): startTime, PodScheduled and other non-kubelet
	// conditions, and lastTransitionTimes are carried from it.
	Old *corev1.PodStatus
	// SandboxReady: the pod's namespaces exist and its network is set up
	// (the PodReadyToStartContainers condition).
	SandboxReady bool
	// Terminal: the kubelet has stopped the pod for good (deleted, evicted,
	// or active deadline exceeded) and all its containers have stopped, so
	// restartPolicy no longer applies.
	Terminal bool
	PodIPs   []string
	HostIPs  []string
	// Now stamps startTime and condition transitions.
	Now time.Time
}

func (in *Input) old() *corev1.PodStatus {
	if in.Old != nil {
		return in.Old
	}
	return &in.Pod.Status
}
