package compat

import "testing"

// TestDescribe covers kubectl describe, which reads an object and everything
// around it (events, replica sets, endpoint slices, quotas...) with typed
// clients.
func TestDescribe(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "describe")
	mustKubectl(t, "apply", "-n", ns, "-f", manifest(t, "nginx-deployment.yaml"), "-f", manifest(t, "service.yaml"),
		"-f", manifest(t, "pod.yaml"), "-f", manifest(t, "configmap.yaml"), "-f", manifest(t, "secret.yaml"))
	mustKubectl(t, "rollout", "status", "deployment/nginx-deployment", "-n", ns, "--timeout=90s")
	mustKubectl(t, "wait", "--for=condition=Ready", "pod/nginx", "-n", ns, "--timeout=60s")

	t.Run("deployment", func(t *testing.T) {
		out := mustKubectl(t, "describe", "deployment", "nginx-deployment", "-n", ns)
		wantMatch(t, out,
			`(?m)^Name:\s+nginx-deployment$`,
			`(?m)^Namespace:\s+`+ns+`$`,
			`(?m)^CreationTimestamp:\s+\w{3}, \d\d \w{3} \d{4} `,
			`(?m)^Labels:\s+app=nginx$`,
			`(?m)^Annotations:\s+deployment.kubernetes.io/revision|^Annotations:\s+<none>|^Annotations:\s+kubectl.kubernetes.io/last-applied-configuration`,
			`(?m)^Selector:\s+app=nginx$`,
			`(?m)^Replicas:\s+3 desired \| 3 updated \| 3 total \| 3 available \| 0 unavailable$`,
			`(?m)^StrategyType:\s+RollingUpdate$`,
			`(?m)^MinReadySeconds:\s+0$`,
			`(?m)^RollingUpdateStrategy:\s+25% max unavailable, 25% max surge$`,
			`(?m)^Pod Template:$`,
			`(?m)^\s+Labels:\s+app=nginx$`,
			`(?m)^\s+Containers:$`,
			`(?m)^\s+nginx:$`,
			`(?m)^\s+Image:\s+nginx:1.14.2$`,
			`(?m)^\s+Port:\s+80/TCP$`,
			`(?m)^\s+Host Port:\s+0/TCP$`,
			`(?m)^\s+Environment:\s+<none>$`,
			`(?m)^\s+Available\s+True\s+MinimumReplicasAvailable$`,
			`(?m)^NewReplicaSet:\s+nginx-deployment-[a-z0-9]+ \(3/3 replicas created\)$`,
			`(?m)^\s+Normal\s+ScalingReplicaSet\s+.*deployment-controller\s+Scaled up replica set nginx-deployment-[a-z0-9]+ from 0 to 3$`,
		)
	})

	t.Run("service", func(t *testing.T) {
		out := mustKubectl(t, "describe", "service", "my-service", "-n", ns)
		wantMatch(t, out,
			`(?m)^Name:\s+my-service$`,
			`(?m)^Namespace:\s+`+ns+`$`,
			`(?m)^Selector:\s+app.kubernetes.io/name=MyApp$`,
			`(?m)^Type:\s+ClusterIP$`,
			`(?m)^IP Family Policy:\s+SingleStack$`,
			`(?m)^IP Families:\s+IPv4$`,
			`(?m)^IP:\s+\d+\.\d+\.\d+\.\d+$`,
			`(?m)^IPs:\s+\d+\.\d+\.\d+\.\d+$`,
			`(?m)^Port:\s+<unset>\s+80/TCP$`,
			`(?m)^TargetPort:\s+9376/TCP$`,
			`(?m)^Session Affinity:\s+None$`,
			`(?m)^Internal Traffic Policy:\s+Cluster$`,
			`(?m)^Events:\s+<none>$`,
		)
	})

	t.Run("namespace", func(t *testing.T) {
		out := mustKubectl(t, "describe", "namespace", ns)
		wantMatch(t, out,
			`(?m)^Name:\s+`+ns+`$`,
			`(?m)^Labels:\s+kubernetes.io/metadata.name=`+ns+`$`,
			`(?m)^Status:\s+Active$`,
			`(?m)^No resource quota\.$`,
			`(?m)^No LimitRange resource\.$`,
		)
	})

	t.Run("pod", func(t *testing.T) {
		out := mustKubectl(t, "describe", "pod", "nginx", "-n", ns)
		wantMatch(t, out,
			`(?m)^Name:\s+nginx$`,
			`(?m)^Namespace:\s+`+ns+`$`,
			`(?m)^Node:\s+`+nodePrefix+`\d/\d+\.\d+\.\d+\.\d+$`,
			`(?m)^Labels:\s+app=nginx$`,
			`(?m)^Status:\s+Running$`,
			`(?m)^IP:\s+\d+\.\d+\.\d+\.\d+$`,
			`(?m)^Containers:$`,
			`(?m)^  nginx:$`,
			`(?m)^    Image:\s+nginx:1.14.2$`,
			`(?m)^    Port:\s+80/TCP$`,
			`(?m)^QoS Class:\s+BestEffort$`,
			`(?m)^Tolerations:\s+node.kubernetes.io/not-ready:NoExecute op=Exists for 300s$`,
			`(?m)^\s+node.kubernetes.io/unreachable:NoExecute op=Exists for 300s$`,
			`(?m)^\s+Normal\s+Scheduled\s+.*default-scheduler\s+Successfully assigned `+ns+`/nginx to `+nodePrefix+`\d$`,
		)
	})

	t.Run("configmap and secret", func(t *testing.T) {
		out := mustKubectl(t, "describe", "configmap", "game-demo", "-n", ns)
		wantMatch(t, out, `(?m)^Name:\s+game-demo$`, `(?m)^Data\n====$`, `(?m)^player_initial_lives:\n----\n3$`)
		out = mustKubectl(t, "describe", "secret", "mysecret", "-n", ns)
		wantMatch(t, out, `(?m)^Type:\s+Opaque$`, `(?m)^PASSWORD:\s+12 bytes$`, `(?m)^USER_NAME:\s+5 bytes$`)
	})

	t.Run("by label", func(t *testing.T) {
		out := mustKubectl(t, "describe", "deploy,pods", "-l", "app=nginx", "-n", ns)
		wantMatch(t, out, `(?m)^Name:\s+nginx-deployment$`, `(?m)^Name:\s+nginx$`)
	})
}
