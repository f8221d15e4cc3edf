package apiserver_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

func TestCreateGetUpdateConflict(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	cms := cs.CoreV1().ConfigMaps(ns)
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.UID == "" || cm.CreationTimestamp.IsZero() || cm.ResourceVersion == "" {
		t.Fatalf("server-owned metadata missing: uid=%q created=%v rv=%q", cm.UID, cm.CreationTimestamp, cm.ResourceVersion)
	}
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: want AlreadyExists, got %v", err)
	}
	got, err := cms.Get(ctx, "a", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" || got.ResourceVersion != cm.ResourceVersion {
		t.Fatalf("get: %+v %v", got, err)
	}
	got.Data["k"] = "w"
	updated, err := cms.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.ResourceVersion == cm.ResourceVersion {
		t.Fatal("update did not change resourceVersion")
	}
	got.Data["k"] = "stale" // got still carries the old resourceVersion
	if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: want Conflict, got %v", err)
	}
	// A no-op update must not bump the resourceVersion.
	same, err := cms.Update(ctx, updated, metav1.UpdateOptions{})
	if err != nil || same.ResourceVersion != updated.ResourceVersion {
		t.Fatalf("no-op update changed rv %s -> %s (%v)", updated.ResourceVersion, same.ResourceVersion, err)
	}
	if _, err := cms.Get(ctx, "missing", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get missing: want NotFound, got %v", err)
	}
}

func TestGenerateName(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	seen := map[string]bool{}
	for i := 0; i < 5; i++ {
		cm, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "gen-"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(cm.Name, "gen-") || len(cm.Name) != len("gen-")+5 || seen[cm.Name] {
			t.Fatalf("generated name %q", cm.Name)
		}
		seen[cm.Name] = true
	}
}

func TestMissingNamespace(t *testing.T) {
	ctx, cs, _, _ := setup(t)
	_, err := cs.CoreV1().ConfigMaps("no-such-ns").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), `namespaces "no-such-ns" not found`) {
		t.Fatalf("want namespaces not found, got %v", err)
	}
}

func TestGenerationAndStatusSplit(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	d := newDeployment("web", 2)
	d.Status.Replicas = 99 // status in a create is ignored
	dep, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Generation != 1 || dep.Status.Replicas != 0 {
		t.Fatalf("after create: generation %d, status.replicas %d", dep.Generation, dep.Status.Replicas)
	}
	// Labels are metadata: no new generation.
	dep.Labels = map[string]string{"x": "y"}
	dep, err = cs.AppsV1().Deployments(ns).Update(ctx, dep, metav1.UpdateOptions{})
	if err != nil || dep.Generation != 1 {
		t.Fatalf("label change: generation %d, %v", dep.Generation, err)
	}
	// Spec changes bump it; status written on the main resource is dropped.
	dep.Spec.Replicas = ptr.To[int32](3)
	dep.Status.Replicas = 7
	dep, err = cs.AppsV1().Deployments(ns).Update(ctx, dep, metav1.UpdateOptions{})
	if err != nil || dep.Generation != 2 || dep.Status.Replicas != 0 {
		t.Fatalf("spec change: generation %d status %d, %v", dep.Generation, dep.Status.Replicas, err)
	}
	// /status writes status only.
	dep.Status.Replicas, dep.Status.ObservedGeneration = 3, 2
	dep.Spec.Replicas = ptr.To[int32](10)
	dep, err = cs.AppsV1().Deployments(ns).UpdateStatus(ctx, dep, metav1.UpdateOptions{})
	if err != nil || dep.Status.Replicas != 3 || *dep.Spec.Replicas != 3 || dep.Generation != 2 {
		t.Fatalf("status update: %+v / %v", dep.Status, err)
	}
}

func TestScaleSubresource(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, newDeployment("web", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sc, err := cs.AppsV1().Deployments(ns).GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil || sc.Spec.Replicas != 1 || sc.Status.Selector != "app=web" {
		t.Fatalf("get scale: %+v %v", sc, err)
	}
	sc.Spec.Replicas = 4
	if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, "web", sc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = cs.AppsV1().Deployments(ns).Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":5}}`), metav1.PatchOptions{}, "scale")
	if err != nil {
		t.Fatal(err)
	}
	dep, _ := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if *dep.Spec.Replicas != 5 || dep.Generation != 3 {
		t.Fatalf("after scale: replicas %d generation %d", *dep.Spec.Replicas, dep.Generation)
	}
}

func TestValidationErrors(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	d := newDeployment("web", 1)
	d.Spec.Template.Labels = map[string]string{"app": "other"}
	_, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.template.metadata.labels") {
		t.Fatalf("selector mismatch: want 422 naming spec.template.metadata.labels, got %v", err)
	}
	_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "Bad_Name"}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.name") {
		t.Fatalf("bad name: want 422 naming metadata.name, got %v", err)
	}
}

func TestFinalizers(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	cms := cs.CoreV1().ConfigMaps(ns)
	_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "f", Finalizers: []string{"example.com/hold"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "f", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cm, err := cms.Get(ctx, "f", metav1.GetOptions{})
	if err != nil || cm.DeletionTimestamp == nil {
		t.Fatalf("finalized object should stay with deletionTimestamp: %+v %v", cm, err)
	}
	cm.Finalizers = append(cm.Finalizers, "example.com/another")
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("adding a finalizer while deleting: want 422, got %v", err)
	}
	cm.Finalizers = nil
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "f", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after last finalizer: want NotFound, got %v", err)
	}
}

func TestDeletePreconditions(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	cm, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wrong := types.UID("nope")
	err = cs.CoreV1().ConfigMaps(ns).Delete(ctx, "p", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrong}})
	if !apierrors.IsConflict(err) {
		t.Fatalf("wrong uid precondition: want Conflict, got %v", err)
	}
	if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "p", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cm.UID}}); err != nil {
		t.Fatal(err)
	}
}

func TestNamespaceTerminating(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil && n.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("deleted namespace phase %q, want Terminating", n.Status.Phase)
	}
	if err == nil {
		_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}}, metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) && !apierrors.IsNotFound(err) {
			t.Fatalf("create in terminating namespace: want Forbidden, got %v", err)
		}
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, "default", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("deleting default: want Forbidden, got %v", err)
	}
}

func TestPodBindingAndGracefulDelete(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	pods := cs.CoreV1().Pods(ns)
	pod, err := pods.Create(ctx, newPod("p"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != corev1.PodPending || pod.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Fatalf("new pod: phase %q restartPolicy %q", pod.Status.Phase, pod.Spec.RestartPolicy)
	}
	bind := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}
	if err := pods.Bind(ctx, bind, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Bind(ctx, bind, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("second bind: want Conflict, got %v", err)
	}
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err = pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil || pod.DeletionTimestamp == nil || *pod.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("bound pod must terminate gracefully: %+v %v", pod, err)
	}
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("force delete: want NotFound, got %v", err)
	}
}

func TestRequestTooLarge(t *testing.T) {
	ctx, _, _, ns := setup(t)
	big := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"x":"` + strings.Repeat("a", 4<<20) + `"}}`
	code, _ := rawRequest(t, ctx, http.MethodPost, "/api/v1/namespaces/"+ns+"/configmaps", big)
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("4 MiB body: want 413, got %d", code)
	}
}

func TestUnauthenticated(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get(testCP.URL + "/api/v1/namespaces")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"reason":"Unauthorized"`) {
		t.Fatalf("anonymous list: %d %s", resp.StatusCode, body)
	}
	resp, err = client.Get(testCP.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("anonymous /healthz: %d", resp.StatusCode)
	}
}

// rawRequest sends a JSON body with the admin credentials.
func rawRequest(t *testing.T, ctx context.Context, method, path, body string) (int, string) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(testConfig)
	res := cs.CoreV1().RESTClient().Verb(method).AbsPath(path).SetHeader("Content-Type", "application/json").Body(bytes.NewBufferString(body)).Do(ctx)
	var code int
	res.StatusCode(&code)
	raw, _ := res.Raw()
	return code, string(raw)
}

func newDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.14.2"}}},
			},
		},
	}
}

func newPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
}

func TestBootstrapObjects(t *testing.T) {
	ctx, cs, _, _ := setup(t)
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Errorf("namespace %s: %v", ns, err)
		}
	}
	svc, err := cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != "10.32.0.1" || svc.Spec.Ports[0].Port != 443 {
		t.Errorf("kubernetes service: %+v %v", svc, err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "cluster-admin", metav1.GetOptions{}); err != nil {
		t.Errorf("clusterrolebinding cluster-admin: %v", err)
	}
}

func TestPaginatedList(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	cms := cs.CoreV1().ConfigMaps(ns)
	for i := 0; i < 7; i++ {
		labels := map[string]string{"even": fmt.Sprint(i%2 == 0)}
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Labels: labels}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		selector string
		want     int
	}{{"", 7}, {"even=true", 5}} { // 4 even ones, and the late one the first listing added
		var names []string
		opts := metav1.ListOptions{Limit: 3, LabelSelector: tc.selector}
		first := ""
		for pages := 0; ; pages++ {
			list, err := cms.List(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if first == "" {
				first = list.ResourceVersion
				// A write between pages must not show up: every page is
				// the collection as of the first one.
				if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "late-", Labels: map[string]string{"even": "true"}}}, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if len(list.Items) > 3 || list.ResourceVersion != first {
				t.Fatalf("page %d: %d items at rv %s (first page rv %s)", pages, len(list.Items), list.ResourceVersion, first)
			}
			for _, cm := range list.Items {
				names = append(names, cm.Name)
			}
			if list.Continue == "" {
				break
			}
			opts.Continue = list.Continue
		}
		if len(names) != tc.want {
			t.Fatalf("selector %q: paged through %d objects %v, want %d", tc.selector, len(names), names, tc.want)
		}
	}
	if _, err := cms.List(ctx, metav1.ListOptions{Limit: 1, Continue: "garbage"}); !apierrors.IsBadRequest(err) {
		t.Fatalf("bad continue token: want 400, got %v", err)
	}
}
