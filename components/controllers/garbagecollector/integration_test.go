package garbagecollector_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/garbagecollector"
)

// TestPropagationPolicies runs the collector against a real API server with
// a Deployment → ReplicaSet → Pod chain (ownerReferences set by hand: no
// deployment controller here) and deletes the Deployment each way.
func TestPropagationPolicies(t *testing.T) {
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(cfg)
	gc := garbagecollector.New(metadata.NewForConfigOrDie(cfg), kube.Discovery())
	go gc.Run(ctx, 5)

	t.Run("Background: the Deployment goes at once, then the ReplicaSet and the Pod", func(t *testing.T) {
		c := newChain(t, ctx, kube, "background")
		c.delete(metav1.DeletePropagationBackground)
		c.waitGone("deployment", c.getDeployment)
		c.waitGone("replicaset", c.getReplicaSet)
		c.waitGone("pod", c.getPod)
	})

	t.Run("Orphan: the Deployment goes, the ReplicaSet stays without its owner", func(t *testing.T) {
		c := newChain(t, ctx, kube, "orphan")
		c.delete(metav1.DeletePropagationOrphan)
		c.waitGone("deployment", c.getDeployment)
		rs, err := c.getReplicaSet()
		if err != nil {
			t.Fatalf("replicaset: %v", err)
		}
		if len(rs.GetOwnerReferences()) != 0 {
			t.Errorf("replicaset still has owners: %+v", rs.GetOwnerReferences())
		}
		pod, err := c.getPod()
		if err != nil || len(pod.GetOwnerReferences()) != 1 {
			t.Errorf("pod: err %v, owners %+v; want it kept, owned by the replicaset", err, pod)
		}
	})

	t.Run("Foreground: the Deployment stays until the ReplicaSet and the Pod are gone", func(t *testing.T) {
		c := newChain(t, ctx, kube, "foreground")
		// A finalizer of ours holds the Pod, so we can look at the cluster
		// while the collector waits for it.
		c.holdPod()
		c.delete(metav1.DeletePropagationForeground)
		c.waitFor("the collector to delete the pod", func() (bool, error) {
			pod, err := c.getPod()
			return err == nil && pod.GetDeletionTimestamp() != nil, err
		})
		for what, get := range map[string]func() (metav1.Object, error){"deployment": c.getDeployment, "replicaset": c.getReplicaSet} {
			obj, err := get()
			if err != nil || obj.GetDeletionTimestamp() == nil {
				t.Fatalf("%s: err %v; want it kept, with a deletionTimestamp, while the pod is there", what, err)
			}
		}
		c.releasePod()
		c.waitGone("deployment", c.getDeployment)
		for what, get := range map[string]func() (metav1.Object, error){"replicaset": c.getReplicaSet, "pod": c.getPod} {
			if _, err := get(); !apierrors.IsNotFound(err) {
				t.Errorf("%s: got %v after the deployment went, want it gone before", what, err)
			}
		}
	})
}

// chain is a Deployment owning a ReplicaSet owning a Pod in its own namespace.
type chain struct {
	t    *testing.T
	ctx  context.Context
	kube kubernetes.Interface
	ns   string
}

func newChain(t *testing.T, ctx context.Context, kube kubernetes.Interface, ns string) *chain {
	c := &chain{t: t, ctx: ctx, kube: kube, ns: ns}
	labels := map[string]string{"app": "web"}
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}
	selector := &metav1.LabelSelector{MatchLabels: labels}

	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	c.must(err)
	d, err := kube.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Selector: selector, Template: template}}, metav1.CreateOptions{})
	c.must(err)
	rs, err := kube.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", OwnerReferences: []metav1.OwnerReference{controllerRef(d, "apps/v1", "Deployment")}},
		Spec:       appsv1.ReplicaSetSpec{Selector: selector, Template: template}}, metav1.CreateOptions{})
	c.must(err)
	_, err = kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1-a", Labels: labels, OwnerReferences: []metav1.OwnerReference{controllerRef(rs, "apps/v1", "ReplicaSet")}},
		Spec:       template.Spec}, metav1.CreateOptions{})
	c.must(err)
	return c
}

// controllerRef is the reference a controller sets on what it creates.
func controllerRef(owner metav1.Object, apiVersion, kind string) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: owner.GetName(), UID: owner.GetUID(),
		Controller: &yes, BlockOwnerDeletion: &yes}
}

func (c *chain) delete(policy metav1.DeletionPropagation) {
	c.must(c.kube.AppsV1().Deployments(c.ns).Delete(c.ctx, "web", metav1.DeleteOptions{PropagationPolicy: &policy}))
}

func (c *chain) getDeployment() (metav1.Object, error) {
	return c.kube.AppsV1().Deployments(c.ns).Get(c.ctx, "web", metav1.GetOptions{})
}

func (c *chain) getReplicaSet() (metav1.Object, error) {
	return c.kube.AppsV1().ReplicaSets(c.ns).Get(c.ctx, "web-1", metav1.GetOptions{})
}

func (c *chain) getPod() (metav1.Object, error) {
	return c.kube.CoreV1().Pods(c.ns).Get(c.ctx, "web-1-a", metav1.GetOptions{})
}

func (c *chain) holdPod()    { c.patchPod(`{"metadata":{"finalizers":["test.kubelab.io/hold"]}}`) }
func (c *chain) releasePod() { c.patchPod(`{"metadata":{"finalizers":null}}`) }

func (c *chain) patchPod(patch string) {
	_, err := c.kube.CoreV1().Pods(c.ns).Patch(c.ctx, "web-1-a", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	c.must(err)
}

func (c *chain) waitGone(what string, get func() (metav1.Object, error)) {
	c.t.Helper()
	c.waitFor(what+" to be deleted", func() (bool, error) {
		_, err := get()
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

func (c *chain) waitFor(what string, cond func() (bool, error)) {
	c.t.Helper()
	err := wait.PollUntilContextTimeout(c.ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return cond()
	})
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", what, err)
	}
}

func (c *chain) must(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
}
