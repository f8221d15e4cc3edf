package hollownode

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
)

// newTestSet is a Set of two nodes (hollow-node-1 failed) whose caches hold
// pods, over a fake clientset, with the clock at t0.
func newTestSet(t *testing.T, pods ...*corev1.Pod) (*Set, *fake.Clientset) {
	t.Helper()
	kube := fake.NewClientset()
	podIndex := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, p := range pods {
		if err := podIndex.Add(p); err != nil {
			t.Fatal(err)
		}
		if _, err := kube.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	kube.ClearActions()
	s := &Set{
		o: testOptions(t, Options{}), kube: kube, ips: newIPAM(), now: func() time.Time { return t0 },
		nodes: map[string]*node{
			"hollow-node-0": {name: "hollow-node-0", index: 0},
			"hollow-node-1": {name: "hollow-node-1", index: 1, failed: true},
		},
		nodeLister: corelisters.NewNodeLister(cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})),
		podLister:  corelisters.NewPodLister(podIndex),
		podIndex:   podIndex,
		pods:       workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
	}
	t.Cleanup(s.pods.ShutDown)
	return s, kube
}

func deleting(p *corev1.Pod, requestedAgo time.Duration) *corev1.Pod {
	p.DeletionGracePeriodSeconds = ptr.To[int64](30)
	p.DeletionTimestamp = ptr.To(metav1.NewTime(t0.Add(-requestedAgo).Add(30 * time.Second)))
	return p
}

func TestSyncPod(t *testing.T) {
	onNode := func(node string) *corev1.Pod {
		p := testPod(corev1.RestartPolicyAlways, nil)
		p.Spec.NodeName = node
		return p
	}
	hostNet := onNode("hollow-node-0")
	hostNet.Spec.HostNetwork = true
	done := onNode("hollow-node-0")
	done.Status.Phase = corev1.PodSucceeded

	for _, tt := range []struct {
		name   string
		pod    *corev1.Pod
		want   string // verb/resource/subresource of the one action, "" for none
		podIP  string // for a status update
		delete bool
	}{
		{"starts a pod on a live node", onNode("hollow-node-0"), "update/pods/status", "10.64.0.2", false},
		{"host network pod gets the node's address", hostNet, "update/pods/status", "10.241.0.1", false},
		{"a failed node does nothing", onNode("hollow-node-1"), "", "", false},
		{"not our node", onNode("real-node"), "", "", false},
		{"finished pods stay", done, "", "", false},
		{"kill not finished yet", deleting(onNode("hollow-node-0"), 500*time.Millisecond), "", "", false},
		{"kill confirmed", deleting(onNode("hollow-node-0"), 2*time.Second), "delete/pods/", "", true},
		{"a failed node never confirms", deleting(onNode("hollow-node-1"), time.Minute), "", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, kube := newTestSet(t, tt.pod)
			if err := s.syncPod(context.Background(), "ns/p"); err != nil {
				t.Fatal(err)
			}
			var got []k8stesting.Action
			for _, a := range kube.Actions() {
				if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
					got = append(got, a)
				}
			}
			if tt.want == "" {
				if len(got) != 0 {
					t.Fatalf("actions = %v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("actions = %v, want one %s", got, tt.want)
			}
			a := got[0]
			if v := a.GetVerb() + "/" + a.GetResource().Resource + "/" + a.GetSubresource(); v != tt.want {
				t.Fatalf("action %s, want %s", v, tt.want)
			}
			if tt.delete {
				opts := a.(k8stesting.DeleteActionImpl).DeleteOptions
				if ptr.Deref(opts.GracePeriodSeconds, -1) != 0 || opts.Preconditions == nil || *opts.Preconditions.UID != "uid-1" {
					t.Errorf("delete options = %+v, want grace 0 and the pod's UID as precondition", opts)
				}
				return
			}
			p := a.(k8stesting.UpdateAction).GetObject().(*corev1.Pod)
			if p.Status.Phase != corev1.PodRunning || p.Status.PodIP != tt.podIP {
				t.Errorf("status: phase %s podIP %s, want Running %s", p.Status.Phase, p.Status.PodIP, tt.podIP)
			}
		})
	}
}

// A pod's address is freed when it goes, and handed to the next pod.
func TestSyncPodReleasesAddress(t *testing.T) {
	a := testPod(corev1.RestartPolicyAlways, nil)
	s, _ := newTestSet(t, a)
	if err := s.syncPod(context.Background(), "ns/p"); err != nil {
		t.Fatal(err)
	}
	if err := s.podIndex.Delete(a); err != nil {
		t.Fatal(err)
	}
	if err := s.syncPod(context.Background(), "ns/p"); err != nil {
		t.Fatal(err)
	}
	if off, err := s.ips.assign("hollow-node-0", "ns/q", "uid-2", 255); err != nil || off != 2 {
		t.Errorf("next pod got offset %d (%v), want the freed 2", off, err)
	}
}
