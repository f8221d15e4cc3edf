package compat

import (
	"strings"
	"testing"
	"time"
)

// TestRollout drives a Deployment from the documentation's "Deployments"
// page through kubectl's rollout verbs, the way the page does: the scheduler,
// the deployment and replicaset controllers and the suite's hollow nodes
// (which report pods Running and Ready) do the work behind it.
func TestRollout(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "rollout")
	deploy := "deployment/nginx-deployment"
	mustKubectl(t, "apply", "-n", ns, "-f", manifest(t, "nginx-deployment.yaml"))

	status := func(t *testing.T) {
		t.Helper()
		out := mustKubectl(t, "rollout", "status", deploy, "-n", ns, "--timeout=90s")
		wantContains(t, out, `deployment "nginx-deployment" successfully rolled out`)
	}
	image := func() string {
		return jsonpath(t, "{.spec.template.spec.containers[0].image}", deploy, "-n", ns)
	}

	t.Run("status", func(t *testing.T) {
		status(t)
		tb := parseTable(t, mustKubectl(t, "get", deploy, "-n", ns))
		r := tb.row(t, "NAME", "nginx-deployment")
		wantEqual(t, "READY", r["READY"], "3/3")
		wantEqual(t, "UP-TO-DATE", r["UP-TO-DATE"], "3")
		wantEqual(t, "AVAILABLE", r["AVAILABLE"], "3")
		pods := parseTable(t, mustKubectl(t, "get", "pods", "-l", "app=nginx", "-o", "wide", "-n", ns))
		if n := len(pods.Rows); n != 3 {
			t.Fatalf("want 3 pods, got %d:\n%s", n, mustKubectl(t, "get", "pods", "-n", ns))
		}
		for _, node := range pods.column("NODE") {
			if !strings.HasPrefix(node, nodePrefix) {
				t.Errorf("pod scheduled to %q, want one of the suite's nodes (%s*)", node, nodePrefix)
			}
		}
		for _, st := range pods.column("STATUS") {
			wantEqual(t, "pod STATUS", st, "Running")
		}
		// The ReplicaSet is named after the pod template's hash.
		rs := parseTable(t, mustKubectl(t, "get", "rs", "-l", "app=nginx", "-n", ns))
		wantMatch(t, strings.Join(rs.column("NAME"), "\n"), `^nginx-deployment-[a-z0-9]{8,10}$`)
	})

	t.Run("set image, history, undo", func(t *testing.T) {
		out := mustKubectl(t, "set", "image", deploy, "nginx=nginx:1.16.1", "-n", ns)
		wantLine(t, out, "deployment.apps/nginx-deployment image updated")
		status(t)
		wantEqual(t, "image", image(), "nginx:1.16.1")
		rs := parseTable(t, mustKubectl(t, "get", "rs", "-l", "app=nginx", "-n", ns))
		if n := len(rs.Rows); n != 2 {
			t.Fatalf("want the old and the new ReplicaSet, got %d", n)
		}

		out = mustKubectl(t, "rollout", "history", deploy, "-n", ns)
		wantMatch(t, out, `(?m)^REVISION\s+CHANGE-CAUSE$`, `(?m)^1\s+<none>$`, `(?m)^2\s+<none>$`)
		out = mustKubectl(t, "rollout", "history", deploy, "--revision=2", "-n", ns)
		wantMatch(t, out, `(?m)revision #2`, `(?m)^\s+Image:\s+nginx:1.16.1$`)

		out = mustKubectl(t, "rollout", "undo", deploy, "-n", ns)
		wantLine(t, out, "deployment.apps/nginx-deployment rolled back")
		status(t)
		wantEqual(t, "image after undo", image(), "nginx:1.14.2")
		// Undo re-uses revision 1's ReplicaSet, which becomes revision 3.
		out = mustKubectl(t, "rollout", "history", deploy, "-n", ns)
		wantMatch(t, out, `(?m)^2\s+<none>$`, `(?m)^3\s+<none>$`)
		wantNotContains(t, out, "\n1 ")
		rs = parseTable(t, mustKubectl(t, "get", "rs", "-l", "app=nginx", "-n", ns))
		if n := len(rs.Rows); n != 2 {
			t.Errorf("undo should re-use the first ReplicaSet; got %d ReplicaSets", n)
		}
	})

	t.Run("restart", func(t *testing.T) {
		out := mustKubectl(t, "rollout", "restart", deploy, "-n", ns)
		wantLine(t, out, "deployment.apps/nginx-deployment restarted")
		status(t)
		at := jsonpath(t, `{.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}`, deploy, "-n", ns)
		if at == "" {
			t.Error("restart did not stamp kubectl.kubernetes.io/restartedAt")
		}
	})

	t.Run("pause and resume", func(t *testing.T) {
		wantLine(t, mustKubectl(t, "rollout", "pause", deploy, "-n", ns), "deployment.apps/nginx-deployment paused")
		before := len(parseTable(t, mustKubectl(t, "get", "rs", "-l", "app=nginx", "-n", ns)).Rows)
		mustKubectl(t, "set", "image", deploy, "nginx=nginx:1.25", "-n", ns)
		time.Sleep(time.Second) // a paused Deployment must not start a rollout
		after := len(parseTable(t, mustKubectl(t, "get", "rs", "-l", "app=nginx", "-n", ns)).Rows)
		if after != before {
			t.Errorf("paused deployment created a ReplicaSet (%d → %d)", before, after)
		}
		out := mustKubectl(t, "describe", deploy, "-n", ns)
		wantMatch(t, out, `(?m)^\s+Progressing\s+Unknown\s+DeploymentPaused$`)
		wantLine(t, mustKubectl(t, "rollout", "resume", deploy, "-n", ns), "deployment.apps/nginx-deployment resumed")
		status(t)
		wantEqual(t, "image after resume", image(), "nginx:1.25")
	})

	t.Run("scale and wait", func(t *testing.T) {
		wantLine(t, mustKubectl(t, "scale", deploy, "--replicas=5", "-n", ns), "deployment.apps/nginx-deployment scaled")
		out := mustKubectl(t, "wait", "--for=jsonpath={.status.availableReplicas}=5", deploy, "-n", ns, "--timeout=60s")
		wantLine(t, out, "deployment.apps/nginx-deployment condition met")
		out = mustKubectl(t, "wait", "--for=condition=Available", deploy, "-n", ns, "--timeout=60s")
		wantLine(t, out, "deployment.apps/nginx-deployment condition met")
		out = mustKubectl(t, "wait", "--for=condition=Ready", "pods", "-l", "app=nginx", "-n", ns, "--timeout=60s")
		if n := strings.Count(out, "condition met"); n != 5 {
			t.Errorf("wait pods: %d lines 'condition met', want 5:\n%s", n, out)
		}
	})

	t.Run("describe deployment", func(t *testing.T) {
		out := mustKubectl(t, "describe", deploy, "-n", ns)
		wantMatch(t, out,
			`(?m)^Annotations:\s+deployment.kubernetes.io/revision: \d+$`,
			`(?m)^Replicas:\s+5 desired \| 5 updated \| 5 total \| 5 available \| 0 unavailable$`,
			`(?m)^\s+Available\s+True\s+MinimumReplicasAvailable$`,
			`(?m)^\s+Progressing\s+True\s+NewReplicaSetAvailable$`,
			`(?m)^NewReplicaSet:\s+nginx-deployment-[a-z0-9]+ \(5/5 replicas created\)$`,
			`(?m)^\s+Normal\s+ScalingReplicaSet\s+.*deployment-controller\s+Scaled (up|down) replica set nginx-deployment-[a-z0-9]+ (from \d+ )?to \d+`,
		)
	})
}

// TestJobCompletes runs the documentation's "pi" Job. A hollow node ends
// pods with restartPolicy Never successfully after a moment, so the Job
// controller sees its completion and kubectl wait returns.
func TestJobCompletes(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "job")
	mustKubectl(t, "apply", "-n", ns, "-f", manifest(t, "job.yaml"))
	out := mustKubectl(t, "wait", "--for=condition=Complete", "job/pi", "-n", ns, "--timeout=90s")
	wantLine(t, out, "job.batch/pi condition met")
	tb := parseTable(t, mustKubectl(t, "get", "job", "pi", "-n", ns))
	r := tb.row(t, "NAME", "pi")
	wantEqual(t, "STATUS", r["STATUS"], "Complete")
	wantEqual(t, "COMPLETIONS", r["COMPLETIONS"], "1/1")
	out = mustKubectl(t, "describe", "job", "pi", "-n", ns)
	wantMatch(t, out, `(?m)^Pods Statuses:\s+0 Active \(0 Ready\) / 1 Succeeded / 0 Failed$`,
		`(?m)^\s+Normal\s+SuccessfulCreate\s+.*job-controller\s+Created pod: pi-[a-z0-9]+$`,
		`(?m)^\s+Normal\s+Completed\s+.*job-controller\s+Job completed$`)
}

// TestDescribeNode reads a node the way an operator does: conditions from
// the node's status, the lease its kubelet renews, and the pods on it.
func TestDescribeNode(t *testing.T) {
	t.Parallel()
	node := nodePrefix + "0"
	out := mustKubectl(t, "describe", "node", node)
	wantMatch(t, out,
		`(?m)^Name:\s+`+node+`$`,
		`(?m)^Roles:\s+<none>$`,
		`(?m)^\s+kubernetes.io/hostname=`+node+`$`,
		`(?m)^Taints:\s+<none>$`,
		`(?m)^Unschedulable:\s+false$`,
		`(?m)^Lease:$`,
		`(?m)^\s+HolderIdentity:\s+`+node+`$`,
		`(?m)^\s+Ready\s+True\s+.*KubeletReady\s+kubelet is posting ready status`,
		`(?m)^\s+InternalIP:\s+\d+\.\d+\.\d+\.\d+$`,
		`(?m)^Capacity:$`,
		`(?m)^\s+cpu:\s+\d+$`,
		`(?m)^Non-terminated Pods:\s+\(\d+ in total\)$`,
		`(?m)^Allocated resources:$`,
	)

	t.Run("cordon", func(t *testing.T) {
		wantLine(t, mustKubectl(t, "cordon", nodePrefix+"2"), "node/"+nodePrefix+"2 cordoned")
		defer mustKubectl(t, "uncordon", nodePrefix+"2")
		tb := parseTable(t, mustKubectl(t, "get", "node", nodePrefix+"2"))
		wantEqual(t, "STATUS", tb.row(t, "NAME", nodePrefix+"2")["STATUS"], "Ready,SchedulingDisabled")
		eventually(t, defaultWait, "unschedulable taint", func() error {
			out := mustKubectl(t, "describe", "node", nodePrefix+"2")
			if !strings.Contains(out, "node.kubernetes.io/unschedulable:NoSchedule") {
				return errorf("no node.kubernetes.io/unschedulable:NoSchedule taint yet")
			}
			return nil
		})
	})
}
