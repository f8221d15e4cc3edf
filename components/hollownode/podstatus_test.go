package hollownode

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testPod(restart corev1.RestartPolicy, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-1", Generation: 1,
			CreationTimestamp: metav1.NewTime(t0), Annotations: annotations},
		Spec: corev1.PodSpec{NodeName: "hollow-node-0", RestartPolicy: restart,
			Containers: []corev1.Container{{Name: "web", Image: "nginx"}, {Name: "agent", Image: "busybox"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBestEffort},
	}
}

// advance returns the pod as the API server would store it after st.
func advance(pod *corev1.Pod, st *corev1.PodStatus) *corev1.Pod {
	p := pod.DeepCopy()
	p.Status = *st
	return p
}

func conditionOf(st *corev1.PodStatus, typ corev1.PodConditionType) corev1.PodCondition {
	if c := condition(st.Conditions, typ); c != nil {
		return *c
	}
	return corev1.PodCondition{}
}

func TestStartPod(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, nil)
	pod.Spec.InitContainers = []corev1.Container{
		{Name: "setup", Image: "busybox"},
		{Name: "sidecar", Image: "envoy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)},
	}
	st, after := nextStatus(pod, "10.241.0.1", []string{"10.64.0.2"}, timing{jobDuration: time.Second}, t0.Add(time.Second))
	if st == nil || after != 0 {
		t.Fatalf("nextStatus = %v, %v: want a status and no requeue", st, after)
	}
	if st.Phase != corev1.PodRunning || st.PodIP != "10.64.0.2" || len(st.PodIPs) != 1 || st.HostIP != "10.241.0.1" ||
		len(st.HostIPs) != 1 || st.StartTime == nil || st.QOSClass != corev1.PodQOSBestEffort || st.ObservedGeneration != 1 {
		t.Errorf("status = %+v", st)
	}
	// Container statuses are sorted by name, like the kubelet's.
	if cs := st.ContainerStatuses; len(cs) != 2 || cs[0].Name != "agent" || cs[1].Name != "web" {
		t.Fatalf("container statuses = %+v", cs)
	}
	web := st.ContainerStatuses[1]
	if !web.Ready || !*web.Started || web.State.Running == nil || web.ImageID != "hollow://nginx" || web.ContainerID != "hollow://uid-1/web" {
		t.Errorf("web status = %+v", web)
	}
	setup, sidecar := st.InitContainerStatuses[0], st.InitContainerStatuses[1]
	if term := setup.State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != "Completed" || !setup.Ready {
		t.Errorf("init container status = %+v, want terminated Completed exit 0", setup)
	}
	if sidecar.State.Running == nil {
		t.Errorf("sidecar status = %+v, want running", sidecar)
	}
	wantTypes := []corev1.PodConditionType{"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"}
	for i, c := range st.Conditions {
		if c.Type != wantTypes[i] || c.Status != corev1.ConditionTrue {
			t.Errorf("condition %d = %s %s, want %s True", i, c.Type, c.Status, wantTypes[i])
		}
	}

	// Computing again from the stored status writes nothing.
	if again, after := nextStatus(advance(pod, st), "10.241.0.1", []string{"10.64.0.2"}, timing{}, t0.Add(time.Minute)); again != nil || after != 0 {
		t.Errorf("second look wrote %+v (requeue %v), want nothing", again, after)
	}
}

func TestStartupDelay(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, nil)
	st, after := nextStatus(pod, "h", []string{"p"}, timing{startupDelay: 5 * time.Second}, t0.Add(2*time.Second))
	if st != nil || after != 3*time.Second {
		t.Errorf("nextStatus = %v, %v: want nothing yet, again in 3s", st, after)
	}
	// The scheduler's PodScheduled transition counts, not the creation.
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(10 * time.Second))}}
	if _, after := nextStatus(pod, "h", []string{"p"}, timing{startupDelay: 5 * time.Second}, t0.Add(12*time.Second)); after != 3*time.Second {
		t.Errorf("requeue after %v, want 3s from the bind", after)
	}
}

func TestReadiness(t *testing.T) {
	notReady := testPod(corev1.RestartPolicyAlways, map[string]string{AnnotationNotReady: "true"})
	st, _ := nextStatus(notReady, "h", []string{"p"}, timing{}, t0)
	if c := conditionOf(st, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotReady" ||
		c.Message != "containers with unready status: [agent web]" {
		t.Errorf("Ready = %+v", c)
	}
	if st.Phase != corev1.PodRunning || st.ContainerStatuses[0].Ready {
		t.Errorf("not-ready pod: phase %s, agent ready %v: want Running, not ready", st.Phase, st.ContainerStatuses[0].Ready)
	}

	gated := testPod(corev1.RestartPolicyAlways, nil)
	gated.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}
	st, _ = nextStatus(gated, "h", []string{"p"}, timing{}, t0)
	if c := conditionOf(st, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != "ReadinessGatesNotReady" {
		t.Errorf("gate missing: Ready = %+v", c)
	}
	if c := conditionOf(st, corev1.ContainersReady); c.Status != corev1.ConditionTrue {
		t.Errorf("gate missing: ContainersReady = %+v, want True", c)
	}
	// Someone (a load balancer controller) sets the gate: the pod is Ready, and the gate stays.
	gated = advance(gated, st)
	gated.Status.Conditions = append(gated.Status.Conditions, corev1.PodCondition{Type: "example.com/lb", Status: corev1.ConditionTrue})
	st, _ = nextStatus(gated, "h", []string{"p"}, timing{}, t0.Add(time.Second))
	if c := conditionOf(st, corev1.PodReady); c.Status != corev1.ConditionTrue {
		t.Errorf("gate true: Ready = %+v", c)
	}
	if c := conditionOf(st, "example.com/lb"); c.Status != corev1.ConditionTrue {
		t.Error("the gate's condition was dropped")
	}
}

func TestJobPods(t *testing.T) {
	tm := timing{jobDuration: 10 * time.Second}
	for _, tt := range []struct {
		name        string
		restart     corev1.RestartPolicy
		annotations map[string]string
		wantPhase   corev1.PodPhase
		wantCode    int32
		wantReason  string // of the Ready condition
	}{
		{"succeeds", corev1.RestartPolicyNever, nil, corev1.PodSucceeded, 0, "PodCompleted"},
		{"fails", corev1.RestartPolicyNever, map[string]string{AnnotationExitCode: "3"}, corev1.PodFailed, 3, "PodFailed"},
		{"malformed code fails", corev1.RestartPolicyNever, map[string]string{AnnotationExitCode: "x"}, corev1.PodFailed, 1, "PodFailed"},
		{"OnFailure succeeds", corev1.RestartPolicyOnFailure, nil, corev1.PodSucceeded, 0, "PodCompleted"},
		{"OnFailure restarts", corev1.RestartPolicyOnFailure, map[string]string{AnnotationExitCode: "2"}, corev1.PodRunning, 2, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod(tt.restart, tt.annotations)
			st, after := nextStatus(pod, "h", []string{"p"}, tm, t0)
			if st == nil || st.Phase != corev1.PodRunning || after != 10*time.Second {
				t.Fatalf("start: %v, requeue %v: want Running, again in 10s", st, after)
			}
			pod = advance(pod, st)
			if st, after := nextStatus(pod, "h", []string{"p"}, tm, t0.Add(4*time.Second)); st != nil || after != 6*time.Second {
				t.Fatalf("midway: %v, requeue %v: want nothing, again in 6s", st, after)
			}
			st, after = nextStatus(pod, "h", []string{"p"}, tm, t0.Add(10*time.Second))
			if st == nil || st.Phase != tt.wantPhase {
				t.Fatalf("end: phase %v, want %s", st, tt.wantPhase)
			}
			cs := st.ContainerStatuses[0]
			if tt.wantPhase == corev1.PodRunning {
				term := cs.LastTerminationState.Terminated
				if cs.RestartCount != 1 || term == nil || term.ExitCode != tt.wantCode || cs.State.Running == nil || after != 10*time.Second {
					t.Errorf("restart: container %+v, requeue %v", cs, after)
				}
				return
			}
			if term := cs.State.Terminated; term == nil || term.ExitCode != tt.wantCode || cs.Ready {
				t.Errorf("container = %+v, want terminated with %d", cs, tt.wantCode)
			}
			if c := conditionOf(st, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != tt.wantReason {
				t.Errorf("Ready = %+v, want False %s", c, tt.wantReason)
			}
			if c := conditionOf(st, corev1.ContainersReady); c.Reason != tt.wantReason {
				t.Errorf("ContainersReady = %+v, want reason %s", c, tt.wantReason)
			}
		})
	}
}
