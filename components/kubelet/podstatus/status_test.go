package podstatus

import (
	"strings"
	"testing"
	"time"

	"github.com/kubelab/kubelab/components/kubelet/runtime"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func pod(policy corev1.RestartPolicy, names ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1", Generation: 3},
		Spec:       corev1.PodSpec{RestartPolicy: policy},
	}
	for _, n := range names {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n, Image: "img-" + n})
	}
	return p
}

func running(name string, attempt int) runtime.ContainerStatus {
	return runtime.ContainerStatus{ID: "u1_" + name, PodUID: "u1", Name: name, Attempt: attempt, State: runtime.StateRunning,
		Image: "img-" + name, ImageID: "sha256:abc", StartedAt: t0.Add(time.Duration(attempt) * time.Minute)}
}

func exited(name string, attempt, code int) runtime.ContainerStatus {
	r := running(name, attempt)
	r.State = runtime.StateExited
	r.ExitCode = code
	r.FinishedAt = r.StartedAt.Add(time.Second)
	return r
}

func withMsg(r runtime.ContainerStatus, msg string) runtime.ContainerStatus {
	r.Message = msg
	return r
}

func condOf(st corev1.PodStatus, t corev1.PodConditionType) corev1.PodCondition {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.PodCondition{}
}

func TestComputeFreshPod(t *testing.T) {
	p := pod(corev1.RestartPolicyAlways, "a", "b")
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
	st := Compute(Input{Pod: p, Now: t0, PodIPs: []string{"10.200.0.5", "fd00::5"}, HostIPs: []string{"10.240.0.11"}})

	if st.Phase != corev1.PodPending {
		t.Errorf("phase = %s", st.Phase)
	}
	if st.ContainerStatuses[0].State.Waiting.Reason != ReasonContainerCreating || st.ContainerStatuses[1].Name != "b" {
		t.Errorf("statuses = %+v", st.ContainerStatuses)
	}
	if st.ContainerStatuses[0].Image != "img-a" || *st.ContainerStatuses[0].Started {
		t.Errorf("status a = %+v", st.ContainerStatuses[0])
	}
	want := []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled}
	for i, w := range want {
		if st.Conditions[i].Type != w {
			t.Fatalf("condition %d = %s, want %s", i, st.Conditions[i].Type, w)
		}
	}
	if c := condOf(st, corev1.PodReadyToStartContainers); c.Status != corev1.ConditionFalse {
		t.Errorf("PodReadyToStartContainers = %+v", c)
	}
	if c := condOf(st, corev1.PodInitialized); c.Status != corev1.ConditionTrue {
		t.Errorf("Initialized = %+v", c)
	}
	ready := condOf(st, corev1.PodReady)
	if ready.Status != corev1.ConditionFalse || ready.Reason != ReasonContainersNotReady || ready.Message != "containers with unready status: [a b]" {
		t.Errorf("Ready = %+v", ready)
	}
	if !ready.LastTransitionTime.Time.Equal(t0) || ready.ObservedGeneration != 3 {
		t.Errorf("Ready times = %+v", ready)
	}
	if st.StartTime == nil || !st.StartTime.Time.Equal(t0) {
		t.Errorf("startTime = %v", st.StartTime)
	}
	if st.PodIP != "10.200.0.5" || len(st.PodIPs) != 2 || st.HostIP != "10.240.0.11" || len(st.HostIPs) != 1 {
		t.Errorf("ips = %s %v %s %v", st.PodIP, st.PodIPs, st.HostIP, st.HostIPs)
	}
	if st.QOSClass != corev1.PodQOSBestEffort || st.ObservedGeneration != 3 {
		t.Errorf("qos = %s gen = %d", st.QOSClass, st.ObservedGeneration)
	}
}

func TestComputeRunningReady(t *testing.T) {
	p := pod(corev1.RestartPolicyAlways, "a")
	start := metav1.NewTime(t0.Add(-time.Hour))
	old := &corev1.PodStatus{StartTime: &start, Conditions: []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: start},
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: start},
	}}
	st := Compute(Input{Pod: p, Old: old, SandboxReady: true, Now: t0,
		Containers: []runtime.ContainerStatus{withMsg(exited("a", 0, 2), "boom"), running("a", 1), running("other-pod", 0)}})
	cs := st.ContainerStatuses[0]
	if st.Phase != corev1.PodRunning || cs.State.Running == nil || !cs.Ready || !*cs.Started {
		t.Fatalf("phase %s status %+v", st.Phase, cs)
	}
	if cs.ContainerID != "kubelab://u1_a" || cs.RestartCount != 1 || cs.ImageID != "sha256:abc" {
		t.Errorf("status = %+v", cs)
	}
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 2 || lt.Reason != "Error" || lt.Message != "boom" {
		t.Errorf("lastState = %+v", cs.LastTerminationState)
	}
	ready := condOf(st, corev1.PodReady)
	if ready.Status != corev1.ConditionTrue || !ready.LastTransitionTime.Equal(&start) {
		t.Errorf("Ready = %+v (transition time must be kept)", ready)
	}
	if !condOf(st, corev1.ContainersReady).LastTransitionTime.Time.Equal(t0) {
		t.Error("new condition must be stamped now")
	}
	if !st.StartTime.Equal(&start) {
		t.Error("startTime not kept")
	}
	if len(st.ContainerStatuses) != 1 {
		t.Error("records of other containers leaked in")
	}
}

func TestComputeProbes(t *testing.T) {
	p := pod(corev1.RestartPolicyAlways, "a", "b")
	p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{}
	p.Spec.Containers[1].StartupProbe = &corev1.Probe{}
	recs := []runtime.ContainerStatus{running("a", 0), running("b", 0)}

	st := Compute(Input{Pod: p, Containers: recs, Now: t0})
	a, b := st.ContainerStatuses[0], st.ContainerStatuses[1]
	if a.Ready || !*a.Started || b.Ready || *b.Started {
		t.Errorf("defaults with probes declared: a=%v/%v b=%v/%v", a.Ready, *a.Started, b.Ready, *b.Started)
	}
	st = Compute(Input{Pod: p, Containers: recs, Now: t0, Probes: map[string]Probe{"a": {Started: true, Ready: true}, "b": {Started: true, Ready: true}}})
	if !st.ContainerStatuses[0].Ready || !st.ContainerStatuses[1].Ready || condOf(st, corev1.PodReady).Status != corev1.ConditionTrue {
		t.Errorf("probe results ignored: %+v", st.ContainerStatuses)
	}
}

func TestComputeCrashLoop(t *testing.T) {
	p := pod(corev1.RestartPolicyAlways, "a")
	msg := CrashLoopMessage(20*time.Second, "a", "web", "default", "u1")
	st := Compute(Input{Pod: p, Now: t0,
		Containers: []runtime.ContainerStatus{exited("a", 0, 1), exited("a", 1, 1)},
		Waiting:    map[string]Waiting{"a": {Reason: ReasonCrashLoopBackOff, Message: msg}}})
	cs := st.ContainerStatuses[0]
	if cs.State.Waiting == nil || cs.State.Waiting.Reason != ReasonCrashLoopBackOff || cs.State.Waiting.Message != msg {
		t.Fatalf("state = %+v", cs.State)
	}
	if lt := cs.LastTerminationState.Terminated; lt == nil || !lt.StartedAt.Time.Equal(t0.Add(time.Minute)) || lt.ContainerID != "kubelab://u1_a" {
		t.Errorf("lastState must be the newest attempt: %+v", cs.LastTerminationState)
	}
	if cs.RestartCount != 1 || st.Phase != corev1.PodRunning {
		t.Errorf("restarts %d phase %s", cs.RestartCount, st.Phase)
	}
}

func TestComputeWaitingReasons(t *testing.T) {
	p := pod(corev1.RestartPolicyNever, "a")
	st := Compute(Input{Pod: p, Now: t0, Waiting: map[string]Waiting{"a": {Reason: ReasonErrImagePull, Message: "pull failed"}}})
	if w := st.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != ReasonErrImagePull || st.Phase != corev1.PodPending {
		t.Errorf("state %+v phase %s", st.ContainerStatuses[0].State, st.Phase)
	}
	// A Never pod's exited container is not restarted: the reason must not
	// hide its termination.
	st = Compute(Input{Pod: p, Now: t0, Containers: []runtime.ContainerStatus{exited("a", 0, 1)},
		Waiting: map[string]Waiting{"a": {Reason: ReasonCrashLoopBackOff}}})
	if st.ContainerStatuses[0].State.Terminated == nil || st.Phase != corev1.PodFailed {
		t.Errorf("state %+v phase %s", st.ContainerStatuses[0].State, st.Phase)
	}
}

func TestComputeTerminalPhases(t *testing.T) {
	tests := []struct {
		name     string
		policy   corev1.RestartPolicy
		codes    []int
		terminal bool
		want     corev1.PodPhase
	}{
		{"never all ok", corev1.RestartPolicyNever, []int{0, 0}, false, corev1.PodSucceeded},
		{"never one failed", corev1.RestartPolicyNever, []int{0, 1}, false, corev1.PodFailed},
		{"onfailure all ok", corev1.RestartPolicyOnFailure, []int{0, 0}, false, corev1.PodSucceeded},
		{"onfailure one failed restarts", corev1.RestartPolicyOnFailure, []int{0, 1}, false, corev1.PodRunning},
		{"always restarts", corev1.RestartPolicyAlways, []int{0, 0}, false, corev1.PodRunning},
		{"always but terminal ok", corev1.RestartPolicyAlways, []int{0, 0}, true, corev1.PodSucceeded},
		{"always but terminal failed", corev1.RestartPolicyAlways, []int{137, 0}, true, corev1.PodFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pod(tt.policy, "a", "b")
			st := Compute(Input{Pod: p, Now: t0, Terminal: tt.terminal,
				Containers: []runtime.ContainerStatus{exited("a", 0, tt.codes[0]), exited("b", 0, tt.codes[1])}})
			if st.Phase != tt.want {
				t.Fatalf("phase = %s, want %s", st.Phase, tt.want)
			}
			if tt.want == corev1.PodSucceeded {
				if c := condOf(st, corev1.ContainersReady); c.Reason != ReasonPodCompleted || c.Status != corev1.ConditionFalse {
					t.Errorf("ContainersReady = %+v", c)
				}
				if c := condOf(st, corev1.PodInitialized); c.Reason != ReasonPodCompleted || c.Status != corev1.ConditionTrue {
					t.Errorf("Initialized = %+v", c)
				}
			}
		})
	}
}

func TestComputeKeepsTerminalPhase(t *testing.T) {
	p := pod(corev1.RestartPolicyAlways, "a")
	st := Compute(Input{Pod: p, Now: t0, Old: &corev1.PodStatus{Phase: corev1.PodFailed},
		Containers: []runtime.ContainerStatus{running("a", 0)}})
	if st.Phase != corev1.PodFailed || st.ContainerStatuses[0].Ready {
		t.Errorf("phase %s ready %v", st.Phase, st.ContainerStatuses[0].Ready)
	}
}

func TestComputeInitContainers(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	mk := func(policy corev1.RestartPolicy) *corev1.Pod {
		p := pod(policy, "app")
		p.Spec.InitContainers = []corev1.Container{{Name: "init1"}, {Name: "side", RestartPolicy: &always}}
		return p
	}
	tests := []struct {
		name       string
		policy     corev1.RestartPolicy
		recs       []runtime.ContainerStatus
		waiting    map[string]Waiting
		phase      corev1.PodPhase
		initStatus corev1.ConditionStatus
		initMsg    string
		appReason  string
	}{
		{"nothing yet", corev1.RestartPolicyAlways, nil, nil, corev1.PodPending, corev1.ConditionFalse,
			"containers with incomplete status: [init1 side]", ReasonPodInitializing},
		{"init running", corev1.RestartPolicyAlways, []runtime.ContainerStatus{running("init1", 0)}, nil, corev1.PodPending,
			corev1.ConditionFalse, "containers with incomplete status: [init1 side]", ReasonPodInitializing},
		{"init failed never", corev1.RestartPolicyNever, []runtime.ContainerStatus{exited("init1", 0, 1)}, nil, corev1.PodFailed,
			corev1.ConditionFalse, "containers with incomplete status: [init1 side]", ReasonPodInitializing},
		{"init crashlooping", corev1.RestartPolicyAlways, []runtime.ContainerStatus{exited("init1", 0, 1)},
			map[string]Waiting{"init1": {Reason: ReasonCrashLoopBackOff}}, corev1.PodPending, corev1.ConditionFalse,
			"containers with incomplete status: [init1 side]", ReasonPodInitializing},
		{"sidecar starting", corev1.RestartPolicyAlways, []runtime.ContainerStatus{exited("init1", 0, 0)}, nil, corev1.PodPending,
			corev1.ConditionFalse, "containers with incomplete status: [side]", ReasonPodInitializing},
		{"all up", corev1.RestartPolicyAlways, []runtime.ContainerStatus{exited("init1", 0, 0), running("side", 0), running("app", 0)},
			map[string]Waiting{"init1": {Reason: ReasonCrashLoopBackOff}}, corev1.PodRunning, corev1.ConditionTrue, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := Compute(Input{Pod: mk(tt.policy), Now: t0, Containers: tt.recs, Waiting: tt.waiting})
			if st.Phase != tt.phase {
				t.Errorf("phase = %s, want %s", st.Phase, tt.phase)
			}
			c := condOf(st, corev1.PodInitialized)
			if c.Status != tt.initStatus || c.Message != tt.initMsg {
				t.Errorf("Initialized = %+v", c)
			}
			app := st.ContainerStatuses[0]
			if tt.appReason != "" && (app.State.Waiting == nil || app.State.Waiting.Reason != tt.appReason) {
				t.Errorf("app state = %+v", app.State)
			}
			if len(st.InitContainerStatuses) != 2 || st.InitContainerStatuses[0].Name != "init1" {
				t.Fatalf("init statuses = %+v", st.InitContainerStatuses)
			}
		})
	}

	// Once up: the succeeded init container is ready, the sidecar counts
	// for ContainersReady.
	st := Compute(Input{Pod: mk(corev1.RestartPolicyAlways), Now: t0,
		Containers: []runtime.ContainerStatus{exited("init1", 0, 0), running("side", 0), running("app", 0)},
		Probes:     map[string]Probe{"side": {Started: true}}})
	if !st.InitContainerStatuses[0].Ready || st.InitContainerStatuses[0].State.Terminated == nil {
		t.Errorf("init1 = %+v", st.InitContainerStatuses[0])
	}
	if c := condOf(st, corev1.ContainersReady); c.Message != "containers with unready status: [side]" {
		t.Errorf("ContainersReady = %+v", c)
	}
}

func TestComputeUnknownState(t *testing.T) {
	r := running("a", 0)
	r.State = runtime.StateUnknown
	st := Compute(Input{Pod: pod(corev1.RestartPolicyNever, "a"), Now: t0, Containers: []runtime.ContainerStatus{r}})
	term := st.ContainerStatuses[0].State.Terminated
	if term == nil || term.ExitCode != 137 || term.Reason != "ContainerStatusUnknown" || st.Phase != corev1.PodFailed {
		t.Errorf("state = %+v phase %s", st.ContainerStatuses[0].State, st.Phase)
	}
}

func TestComputeReadinessGates(t *testing.T) {
	p := pod(corev1.RestartPolicyAlways, "a")
	p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}, {ConditionType: "example.com/x"}}
	old := &corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: "example.com/lb", Status: corev1.ConditionFalse}}}
	st := Compute(Input{Pod: p, Old: old, Now: t0, Containers: []runtime.ContainerStatus{running("a", 0)}})
	c := condOf(st, corev1.PodReady)
	if c.Status != corev1.ConditionFalse || c.Reason != ReasonReadinessGatesNotReady ||
		!strings.Contains(c.Message, `the status of pod readiness gate "example.com/lb" is not "True", but False`) ||
		!strings.Contains(c.Message, `corresponding condition of pod readiness gate "example.com/x" does not exist.`) {
		t.Errorf("Ready = %+v", c)
	}
	if condOf(st, "example.com/lb").Type == "" {
		t.Error("gate condition not carried over")
	}
}

func TestComputeOldTerminatedStatusKept(t *testing.T) {
	// The runtime record was garbage collected: the old terminated state stays.
	p := pod(corev1.RestartPolicyNever, "a")
	old := &corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "a",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}}}
	st := Compute(Input{Pod: p, Old: old, Now: t0})
	if st.ContainerStatuses[0].State.Terminated == nil || st.Phase != corev1.PodSucceeded {
		t.Errorf("state %+v phase %s", st.ContainerStatuses[0].State, st.Phase)
	}
}
