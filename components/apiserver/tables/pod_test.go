package tables

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodColumns(t *testing.T) {
	assertColumns(t, For(corev1.SchemeGroupVersion.WithKind("Pod")),
		"Name:string", "Ready:string", "Status:string", "Restarts:string", "Age:string",
		"IP:string:wide", "Node:string:wide", "Nominated Node:string:wide", "Readiness Gates:string:wide")
}

// pod builds a realistic scheduled pod with the given containers; tests
// then adjust its status.
func pod(containers ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d4b9c6f5-x2x9k", Namespace: "default", CreationTimestamp: ago(5 * time.Minute)},
		Spec:       corev1.PodSpec{NodeName: "worker-1"},
		Status: corev1.PodStatus{
			Phase:  corev1.PodRunning,
			PodIP:  "10.200.1.7",
			PodIPs: []corev1.PodIP{{IP: "10.200.1.7"}},
		},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "nginx:1.27"})
	}
	return p
}

func running(name string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(4 * time.Minute)}}}
}

func waiting(name, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func terminated(name, reason string, code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code}}}
}

func TestPodCells(t *testing.T) {
	tests := []struct {
		name     string
		pod      func() *corev1.Pod
		ready    string
		status   string
		restarts string
	}{
		{"running", func() *corev1.Pod {
			p := pod("nginx")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("nginx")}
			return p
		}, "1/1", "Running", "0"},
		{"container creating", func() *corev1.Pod {
			p := pod("nginx")
			p.Status.Phase = corev1.PodPending
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("nginx", "ContainerCreating")}
			return p
		}, "0/1", "ContainerCreating", "0"},
		{"crash loop with restart age", func() *corev1.Pod {
			p := pod("app")
			s := waiting("app", "CrashLoopBackOff")
			s.RestartCount = 5
			s.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: ago(3 * time.Minute)}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{s}
			return p
		}, "0/1", "CrashLoopBackOff", "5 (3m ago)"},
		{"first container's reason wins", func() *corev1.Pod {
			p := pod("app", "sidecar")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("app", "ImagePullBackOff"), running("sidecar")}
			return p
		}, "1/2", "ImagePullBackOff", "0"},
		{"completed", func() *corev1.Pod {
			p := pod("job")
			p.Status.Phase = corev1.PodSucceeded
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("job", "Completed", 0)}
			return p
		}, "0/1", "Completed", "0"},
		{"completed next to a running container is running", func() *corev1.Pod {
			p := pod("once", "server")
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("once", "Completed", 0), running("server")}
			return p
		}, "1/2", "Running", "0"},
		{"completed next to a running container, pod not ready", func() *corev1.Pod {
			p := pod("once", "server")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("once", "Completed", 0), running("server")}
			return p
		}, "1/2", "NotReady", "0"},
		{"exit code without reason", func() *corev1.Pod {
			p := pod("app")
			p.Status.Phase = corev1.PodFailed
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("app", "", 2)}
			return p
		}, "0/1", "ExitCode:2", "0"},
		{"signal without reason", func() *corev1.Pod {
			p := pod("app")
			s := terminated("app", "", 137)
			s.State.Terminated.Signal = 9
			p.Status.ContainerStatuses = []corev1.ContainerStatus{s}
			return p
		}, "0/1", "Signal:9", "0"},
		{"pending, not scheduled", func() *corev1.Pod {
			p := pod("nginx")
			p.Spec.NodeName = ""
			p.Status = corev1.PodStatus{Phase: corev1.PodPending}
			return p
		}, "0/1", "Pending", "0"},
		{"scheduling gated", func() *corev1.Pod {
			p := pod("nginx")
			p.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated},
			}}
			return p
		}, "0/1", "SchedulingGated", "0"},
		{"evicted", func() *corev1.Pod {
			p := pod("nginx")
			p.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}
			return p
		}, "0/1", "Evicted", "0"},
		{"terminating", func() *corev1.Pod {
			p := pod("nginx")
			p.DeletionTimestamp = agoPtr(time.Second)
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("nginx")}
			return p
		}, "1/1", "Terminating", "0"},
		{"deleted but already succeeded", func() *corev1.Pod {
			p := pod("job")
			p.DeletionTimestamp = agoPtr(time.Second)
			p.Status.Phase = corev1.PodSucceeded
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("job", "Completed", 0)}
			return p
		}, "0/1", "Completed", "0"},
		{"node lost", func() *corev1.Pod {
			p := pod("nginx")
			p.DeletionTimestamp = agoPtr(time.Second)
			p.Status.Reason = nodeLostReason
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("nginx")}
			return p
		}, "1/1", "Unknown", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.pod()
			got, err := podPrinter.Cells(p)
			if err != nil {
				t.Fatal(err)
			}
			if got[1] != tt.ready || got[2] != tt.status || got[3] != tt.restarts {
				t.Errorf("READY, STATUS, RESTARTS = %q, %q, %q; want %q, %q, %q", got[1], got[2], got[3], tt.ready, tt.status, tt.restarts)
			}
		})
	}
}

func TestPodInitContainers(t *testing.T) {
	initPod := func(statuses ...corev1.ContainerStatus) *corev1.Pod {
		p := pod("app")
		p.Spec.InitContainers = []corev1.Container{{Name: "migrate"}, {Name: "warm-cache"}}
		p.Status.Phase = corev1.PodPending
		p.Status.InitContainerStatuses = statuses
		p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("app", "PodInitializing")}
		return p
	}
	withRestarts := func(s corev1.ContainerStatus, n int32) corev1.ContainerStatus {
		s.RestartCount = n
		s.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: ago(90 * time.Second)}
		return s
	}
	tests := []struct {
		name             string
		pod              *corev1.Pod
		status, restarts string
	}{
		{"waiting for the first", initPod(waiting("migrate", "PodInitializing"), waiting("warm-cache", "PodInitializing")), "Init:0/2", "0"},
		{"second running", initPod(terminated("migrate", "Completed", 0), corev1.ContainerStatus{Name: "warm-cache", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}), "Init:1/2", "0"},
		{"crash looping", initPod(withRestarts(waiting("migrate", "CrashLoopBackOff"), 3), waiting("warm-cache", "PodInitializing")), "Init:CrashLoopBackOff", "3 (90s ago)"},
		{"failed", initPod(terminated("migrate", "Error", 1), waiting("warm-cache", "PodInitializing")), "Init:Error", "0"},
		{"failed without reason", initPod(terminated("migrate", "", 3), waiting("warm-cache", "PodInitializing")), "Init:ExitCode:3", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := podPrinter.Cells(tt.pod)
			if err != nil {
				t.Fatal(err)
			}
			if got[2] != tt.status || got[3] != tt.restarts {
				t.Errorf("STATUS, RESTARTS = %q, %q; want %q, %q", got[2], got[3], tt.status, tt.restarts)
			}
		})
	}
}

func TestPodSidecarAndWideColumns(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	p := pod("app")
	p.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: &always}}
	p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}, {ConditionType: "example.com/dns"}}
	p.Status.NominatedNodeName = "worker-2"
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
		{Type: "example.com/lb", Status: corev1.ConditionTrue},
		{Type: "example.com/dns", Status: corev1.ConditionFalse},
	}
	proxy := running("proxy")
	proxy.Started = ptr(true)
	proxy.RestartCount = 1
	proxy.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{FinishedAt: ago(2 * time.Hour)}
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{proxy}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{running("app")}

	assertCells(t, podPrinter, p,
		"web-7d4b9c6f5-x2x9k", "2/2", "Running", "1 (120m ago)", "5m",
		"10.200.1.7", "worker-1", "worker-2", "1/2")
}
