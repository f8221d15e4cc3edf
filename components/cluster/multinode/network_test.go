package multinode

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// netexec is a Deployment of the kit's test server answering HTTP on 8080,
// spread over the nodes (a preferred anti-affinity on the hostname, like a
// real web tier would ask for).
func netexec(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
						PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
							Weight: 100,
							PodAffinityTerm: corev1.PodAffinityTerm{
								LabelSelector: &metav1.LabelSelector{MatchLabels: labels},
								TopologyKey:   corev1.LabelHostname,
							},
						}},
					}},
					Containers: []corev1.Container{{
						Name: "netexec", Image: "localhost/kubelab/testserver:v1",
						Args:  []string{"netexec", "--http-port=8080"},
						Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
							HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(8080)}},
							PeriodSeconds: 1},
					}},
				},
			},
		},
	}
}

// TestPodToPodAcrossNodes is the Kubernetes network model on two nodes:
// every pod reaches every other pod by its IP, without NAT, whether the
// nodes route pod CIDRs to each other (routes) or tunnel them (vxlan).
func TestPodToPodAcrossNodes(t *testing.T) {
	for _, tt := range []struct{ network, subnet string }{
		{"routes", "10.240.41.0/24"},
		{"vxlan", "10.240.42.0/24"},
	} {
		t.Run(tt.network, func(t *testing.T) {
			c := newCluster(t, "mn"+tt.network[:1], tt.network, tt.subnet, 2)
			ctx := context.Background()
			if _, err := c.kube.AppsV1().Deployments("default").Create(ctx, netexec("web", 4), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			pods := c.runningPods(t, "default", "app=web", 4)

			// The scheduler spread them: both nodes run some.
			perNode := map[string]int{}
			for _, p := range pods {
				perNode[p.Spec.NodeName]++
			}
			if len(perNode) != 2 {
				t.Errorf("pods per node = %v, want both nodes used", perNode)
			}
			// Every pod asks every pod (itself included) for its hostname,
			// and the answer is that pod's name: no NAT, no proxy between.
			for _, from := range pods {
				for _, to := range pods {
					out, err := c.exec(t, "default", from.Name, "wget", "-qO-", "http://"+to.Status.PodIP+":8080/hostname")
					if err != nil {
						t.Errorf("%s (%s) -> %s (%s): %v", from.Name, from.Spec.NodeName, to.Name, to.Spec.NodeName, err)
						continue
					}
					if strings.TrimSpace(out) != to.Name {
						t.Errorf("%s -> %s: answer %q, want %q", from.Name, to.Status.PodIP, out, to.Name)
					}
				}
			}
			// The server sees the client's own pod IP (no masquerade).
			from, to := pods[0], pods[len(pods)-1]
			out, err := c.exec(t, "default", from.Name, "wget", "-qO-", "http://"+to.Status.PodIP+":8080/clientip")
			if err != nil || !strings.HasPrefix(strings.TrimSpace(out), from.Status.PodIP+":") {
				t.Errorf("clientip seen by %s = %q (%v), want %s:<port>", to.Name, out, err, from.Status.PodIP)
			}
		})
	}
}

// TestKubeletRestartKeepsPods restarts a node's kubelet under running
// pods: the new kubelet adopts the containers (their per-container monitors
// kept them running), so nothing restarts, and exec and logs still work.
func TestKubeletRestartKeepsPods(t *testing.T) {
	c := newCluster(t, "mnr", "routes", "10.240.43.0/24", 1)
	ctx := context.Background()
	if _, err := c.kube.AppsV1().Deployments("default").Create(ctx, netexec("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := c.runningPods(t, "default", "app=web", 2)
	started := map[string]time.Time{}
	for _, p := range before {
		started[p.Name] = p.Status.ContainerStatuses[0].State.Running.StartedAt.Time
	}

	if err := c.RestartKubelet(ctx, c.Nodes[0].Name); err != nil {
		t.Fatalf("restart kubelet: %v", err)
	}
	// A few heartbeats later, the same pods, same containers.
	time.Sleep(3 * time.Second)
	after := c.runningPods(t, "default", "app=web", 2)
	for _, p := range after {
		cs := p.Status.ContainerStatuses[0]
		if cs.RestartCount != 0 {
			t.Errorf("%s restartCount = %d after a kubelet restart, want 0", p.Name, cs.RestartCount)
		}
		if t0, ok := started[p.Name]; !ok || cs.State.Running == nil || !cs.State.Running.StartedAt.Time.Equal(t0) {
			t.Errorf("%s: container was replaced (startedAt %v, was %v)", p.Name, cs.State.Running, t0)
		}
		if out, err := c.exec(t, "default", p.Name, "cat", "/etc/hostname"); err != nil || strings.TrimSpace(out) != p.Name {
			t.Errorf("exec after restart in %s: %q %v", p.Name, out, err)
		}
	}
	logs, err := c.kube.CoreV1().Pods("default").GetLogs(after[0].Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil || !strings.Contains(string(logs), "netexec serving HTTP") {
		t.Errorf("logs after restart: %q %v", logs, err)
	}
}
