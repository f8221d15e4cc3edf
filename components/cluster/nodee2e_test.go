package cluster_test

import (
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Node e2e: pods through the whole path — API server, scheduler, the
// kubelet on this host, real containers — checked only through the API
// (status, events, logs, exec), the way a user with kubectl sees them.
// Shared cluster and teardown: nodee2e_node_test.go; helpers:
// nodee2e_helpers_test.go.

// idle keeps a busybox container alive and lets it stop at once on TERM
// (PID 1 without a handler would ignore TERM and wait for the KILL).
const idle = `trap "exit 0" TERM; while true; do sleep 0.2; done`

// TestPodSharedEmptyDir: two containers of one pod see the same emptyDir.
func TestPodSharedEmptyDir(t *testing.T) {
	nt := newNodeTest(t)
	pod := nt.simplePod("shared",
		sh("writer", `echo hello-from-writer > /data/msg; `+idle),
		sh("reader", `while [ ! -f /data/msg ]; do sleep 0.1; done; echo "read: $(cat /data/msg)"; `+idle),
	)
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	}
	nt.create(pod)
	nt.waitRunning("shared")
	nt.waitLogs("shared", "reader", "read: hello-from-writer")

	if got := nt.mustExec("shared", "reader", "cat", "/data/msg"); got != "hello-from-writer\n" {
		t.Errorf("exec cat /data/msg in reader = %q, want the writer's line", got)
	}
	// And the other way round, written through exec.
	nt.mustExec("shared", "reader", "sh", "-c", "echo back > /data/reply")
	if got := nt.mustExec("shared", "writer", "cat", "/data/reply"); got != "back\n" {
		t.Errorf("writer reads %q from /data/reply, want %q", got, "back\n")
	}
	// A non-zero exit code comes back through the API server.
	if _, _, code, err := nt.exec("shared", "writer", "sh", "-c", "exit 42"); err != nil || code != 42 {
		t.Errorf("exec exit 42: code %d, err %v", code, err)
	}
}

// TestPodEnv: env from a ConfigMap, a Secret and the downward API, $(VAR)
// expansion in args, and a downwardAPI volume.
func TestPodEnv(t *testing.T) {
	nt := newNodeTest(t)
	nt.createSettings()
	c := corev1.Container{
		Name: "app", Image: busybox, Command: []string{"sh", "-c"},
		// Single quotes: what sh gets is what the kubelet expanded.
		Args: []string{`echo 'ARG=$(COLOR)-$(POD_NAME)-$(MISSING)'; ` + idle},
		Env: []corev1.EnvVar{
			{Name: "COLOR", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "color"}}},
			{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "GREETING", Value: "hello-$(POD_NAME)"},
		},
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
		VolumeMounts: []corev1.VolumeMount{{Name: "podinfo", MountPath: "/etc/podinfo"}},
	}
	pod := nt.simplePod("envpod", c)
	pod.Labels = map[string]string{"app": "envtest", "tier": "backend"}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
		}}}},
	}
	nt.create(pod)
	p := nt.waitRunning("envpod")

	// Kubernetes leaves an undefined $(VAR) as it is.
	nt.waitLogs("envpod", "app", "ARG=blue-envpod-$(MISSING)")
	env := map[string]string{}
	for _, line := range strings.Split(nt.mustExec("envpod", "app", "env"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	for k, want := range map[string]string{
		"COLOR": "blue", "PASSWORD": "s3cret", "POD_NAME": "envpod", "POD_IP": p.Status.PodIP,
		"GREETING": "hello-envpod", "CM_color": "blue",
	} {
		if env[k] != want {
			t.Errorf("env %s = %q, want %q", k, env[k], want)
		}
	}
	if got := nt.mustExec("envpod", "app", "cat", "/etc/podinfo/name"); got != "envpod" {
		t.Errorf("/etc/podinfo/name = %q, want %q", got, "envpod")
	}
	labels := nt.mustExec("envpod", "app", "cat", "/etc/podinfo/labels")
	for _, want := range []string{`app="envtest"`, `tier="backend"`} {
		if !strings.Contains(labels, want) {
			t.Errorf("/etc/podinfo/labels = %q, want a line %s", labels, want)
		}
	}
}

// createSettings creates the ConfigMap "settings" and the Secret "creds".
func (nt *nodeTest) createSettings() {
	nt.t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"},
		Data: map[string]string{"color": "blue", "app.conf": "key=value\n"}}
	if _, err := nt.kube.CoreV1().ConfigMaps(nt.ns).Create(nt.ctx, cm, metav1.CreateOptions{}); err != nil {
		nt.t.Fatal(err)
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, StringData: map[string]string{"password": "s3cret"}}
	if _, err := nt.kube.CoreV1().Secrets(nt.ns).Create(nt.ctx, sec, metav1.CreateOptions{}); err != nil {
		nt.t.Fatal(err)
	}
}

// TestConfigMapAndSecretVolumes: configMap and secret volumes hold the
// objects' keys as files.
func TestConfigMapAndSecretVolumes(t *testing.T) {
	nt := newNodeTest(t)
	nt.createSettings()
	c := sh("app", idle)
	c.VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/cfg"}, {Name: "sec", MountPath: "/etc/sec"}}
	pod := nt.simplePod("vols", c)
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
		{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}},
	}
	nt.create(pod)
	nt.waitRunning("vols")
	for path, want := range map[string]string{
		"/etc/cfg/app.conf": "key=value\n", "/etc/cfg/color": "blue", "/etc/sec/password": "s3cret",
	} {
		if got := nt.mustExec("vols", "app", "cat", path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
}

// TestMemoryLimitOOMKilled: the memory limit is a cgroup limit and the
// kernel's OOM kill shows in status as OOMKilled, 137.
func TestMemoryLimitOOMKilled(t *testing.T) {
	nt := newNodeTest(t)
	pod := nt.simplePod("hog", corev1.Container{Name: "hog", Image: testserver, Args: []string{"mem-hog", "--mb", "64"},
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}}})
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	nt.create(pod)
	p := nt.waitPod("hog", "container terminated", func(p *corev1.Pod) bool {
		cs := containerStatus(p, "hog")
		return cs != nil && cs.State.Terminated != nil
	})
	term := containerStatus(p, "hog").State.Terminated
	if term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Errorf("terminated reason %q exit %d, want OOMKilled 137", term.Reason, term.ExitCode)
	}
	nt.waitPhase("hog", corev1.PodFailed)
	t.Run("Logs", func(t *testing.T) {
		nt.waitReleased(p.UID)
		logs, err := nt.logs("hog", "hog", false)
		if err != nil || !strings.Contains(logs, "allocated 8 MiB") || strings.Contains(logs, "allocated 64 MiB") {
			t.Errorf("want mem-hog's progress up to the kill, not all 64 MiB: logs %q, err %v", logs, err)
		}
	})
}

// TestCrashLoopAndRestartPolicies: restartPolicy Always restarts with a
// back-off (CrashLoopBackOff); Never leaves the pod Failed; OnFailure with
// exit 0 completes it.
func TestCrashLoopAndRestartPolicies(t *testing.T) {
	nt := newNodeTest(t)
	crash := func(name string, policy corev1.RestartPolicy, code string) {
		pod := nt.simplePod(name, corev1.Container{Name: "c", Image: testserver, Args: []string{"crash", "--after", "0s", "--code", code}})
		pod.Spec.RestartPolicy = policy
		nt.create(pod)
	}
	crash("always", corev1.RestartPolicyAlways, "3")
	crash("never", corev1.RestartPolicyNever, "3")
	crash("onfailure", corev1.RestartPolicyOnFailure, "0")
	nt.create(func() *corev1.Pod {
		p := nt.simplePod("shell-never", sh("c", "exit 3"))
		p.Spec.RestartPolicy = corev1.RestartPolicyNever
		return p
	}())

	t.Run("Never", func(t *testing.T) {
		for _, name := range []string{"never", "shell-never"} {
			p := nt.waitPhase(name, corev1.PodFailed)
			cs := containerStatus(p, "c")
			if cs == nil || cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 3 || cs.RestartCount != 0 {
				t.Errorf("%s: want terminated with exit code 3 and no restarts: %s", name, describeStatus(p))
			}
		}
	})
	t.Run("LogsOfFinishedPod", func(t *testing.T) {
		p := nt.waitPhase("never", corev1.PodFailed)
		nt.waitReleased(p.UID)
		if logs, err := nt.logs("never", "c", false); err != nil || !strings.Contains(logs, "exiting with code 3") {
			t.Errorf("kubectl logs of a Failed pod: %q, %v", logs, err)
		}
	})
	t.Run("OnFailureExit0", func(t *testing.T) {
		p := nt.waitPhase("onfailure", corev1.PodSucceeded)
		cs := containerStatus(p, "c")
		if cs == nil || cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 || cs.State.Terminated.Reason != "Completed" || cs.RestartCount != 0 {
			t.Errorf("want terminated Completed, exit 0, no restarts: %s", describeStatus(p))
		}
	})
	t.Run("AlwaysCrashLoop", func(t *testing.T) {
		p := nt.waitPod("always", "CrashLoopBackOff after a restart", func(p *corev1.Pod) bool {
			cs := containerStatus(p, "c")
			return cs != nil && cs.RestartCount >= 1 && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff"
		})
		cs := containerStatus(p, "c")
		if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 3 {
			t.Errorf("lastState.terminated want exit code 3: %s", describeStatus(p))
		}
		if p.Status.Phase != corev1.PodRunning {
			t.Errorf("phase %s, want Running (restartPolicy Always never finishes)", p.Status.Phase)
		}
		nt.waitEvent("always", "BackOff")
		if logs, err := nt.logs("always", "c", true); err != nil || !strings.Contains(logs, "exiting with code 3") {
			t.Errorf("kubectl logs --previous: %q, %v", logs, err)
		}
		// The back-off is 10 s: the count keeps growing after it.
		nt.waitPod("always", "a second restart", func(p *corev1.Pod) bool {
			cs := containerStatus(p, "c")
			return cs != nil && cs.RestartCount >= 2
		})
	})
}

// TestPodStatusFields: what the kubelet reports besides container states.
func TestPodStatusFields(t *testing.T) {
	nt := newNodeTest(t)
	res := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
	c := sh("app", idle)
	c.Resources = corev1.ResourceRequirements{Requests: res, Limits: res}
	nt.create(nt.simplePod("status", c))
	p := nt.waitPod("status", "Ready", func(p *corev1.Pod) bool { return conditionTrue(p, corev1.PodReady) })

	_, podNet, _ := net.ParseCIDR("10.200.0.0/16")
	_, nodeNet, _ := net.ParseCIDR(nt.opts.PodCIDR)
	if ip := net.ParseIP(p.Status.PodIP); ip == nil || !podNet.Contains(ip) || !nodeNet.Contains(ip) {
		t.Errorf("podIP %q, want one in the cluster's 10.200.0.0/16 and the node's %s", p.Status.PodIP, nt.opts.PodCIDR)
	}
	if len(p.Status.PodIPs) != 1 || p.Status.PodIPs[0].IP != p.Status.PodIP {
		t.Errorf("podIPs %v, want [%s]", p.Status.PodIPs, p.Status.PodIP)
	}
	nodeObj, err := nt.kube.CoreV1().Nodes().Get(nt.ctx, nt.opts.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	internal := ""
	for _, a := range nodeObj.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			internal = a.Address
		}
	}
	if internal == "" || p.Status.HostIP != internal {
		t.Errorf("hostIP %q, want the node's InternalIP %q", p.Status.HostIP, internal)
	}
	if p.Status.QOSClass != corev1.PodQOSGuaranteed {
		t.Errorf("qosClass %q, want Guaranteed (requests == limits)", p.Status.QOSClass)
	}
	if p.Status.StartTime == nil || p.Status.StartTime.After(time.Now().Add(time.Minute)) {
		t.Errorf("startTime %v, want set", p.Status.StartTime)
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady,
		corev1.PodReady, corev1.PodReadyToStartContainers} {
		if !conditionTrue(p, ct) {
			t.Errorf("condition %s not True: %s", ct, describeStatus(p))
		}
	}
	cs := containerStatus(p, "app")
	if cs == nil || !cs.Ready || !ptr.Deref(cs.Started, false) || cs.ContainerID == "" || cs.ImageID == "" || cs.Image == "" {
		t.Errorf("container status incomplete: %+v", cs)
	}
}
