package apiserver_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
)

// next reads one event or fails after a timeout.
func next(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event in 10s")
	}
	return watch.Event{}
}

func nameOf(ev watch.Event) string {
	if cm, ok := ev.Object.(*corev1.ConfigMap); ok {
		return cm.Name
	}
	return fmt.Sprintf("%T", ev.Object)
}

func TestWatchFromResourceVersion(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	cms := cs.CoreV1().ConfigMaps(ns)
	a, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// From a's revision: every change after it, in order, and nothing before.
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: a.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if ev := next(t, w); ev.Type != watch.Added || nameOf(ev) != "b" {
		t.Fatalf("first event %s %s, want ADDED b", ev.Type, nameOf(ev))
	}
	ev := next(t, w)
	if ev.Type != watch.Deleted || nameOf(ev) != "a" {
		t.Fatalf("second event %s %s, want DELETED a", ev.Type, nameOf(ev))
	}
	delRV, _ := strconv.Atoi(ev.Object.(*corev1.ConfigMap).ResourceVersion)
	aRV, _ := strconv.Atoi(a.ResourceVersion)
	if delRV <= aRV {
		t.Fatalf("DELETED carries rv %d, want the deletion revision (> %d)", delRV, aRV)
	}
	// Live events follow.
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Type != watch.Added || nameOf(ev) != "c" {
		t.Fatalf("live event %s %s, want ADDED c", ev.Type, nameOf(ev))
	}
}

func TestWatchRV0SendsCurrentState(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	cms := cs.CoreV1().ConfigMaps(ns)
	for _, n := range []string{"x", "y"} {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	got := map[string]bool{}
	for i := 0; i < 2; i++ {
		ev := next(t, w)
		if ev.Type != watch.Added {
			t.Fatalf("want synthetic ADDED, got %s", ev.Type)
		}
		got[nameOf(ev)] = true
	}
	if !got["x"] || !got["y"] {
		t.Fatalf("initial events %v", got)
	}
}

func TestWatchSelectorTransitions(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	cms := cs.CoreV1().ConfigMaps(ns)
	w, err := cms.Watch(ctx, metav1.ListOptions{LabelSelector: "tier=web"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "s"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Labels = map[string]string{"tier": "web"}
	if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Type != watch.Added {
		t.Fatalf("moving into the selector: want ADDED, got %s", ev.Type)
	}
	cm.Labels = map[string]string{"tier": "db"}
	if _, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Type != watch.Deleted {
		t.Fatalf("moving out of the selector: want DELETED, got %s", ev.Type)
	}
}

func TestWatchListInitialEventsEnd(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	cms := cs.CoreV1().ConfigMaps(ns)
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "w"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	send := true
	w, err := cms.Watch(ctx, metav1.ListOptions{SendInitialEvents: &send, AllowWatchBookmarks: true,
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if ev := next(t, w); ev.Type != watch.Added || nameOf(ev) != "w" {
		t.Fatalf("initial event %s %s", ev.Type, nameOf(ev))
	}
	ev := next(t, w)
	if ev.Type != watch.Bookmark || ev.Object.(*corev1.ConfigMap).Annotations["k8s.io/initial-events-end"] != "true" {
		t.Fatalf("want the initial-events-end BOOKMARK, got %s %+v", ev.Type, ev.Object)
	}
}

func TestWatchTooOldIsGone(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "old"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A second API server on the same etcd starts its watch caches now, so
	// revision 2 is older than anything it holds: it must answer 410 Gone
	// (as an ERROR event), which makes client-go relist.
	cp2, cs2 := secondServer(t, []string{testCP.EtcdURL})
	defer cp2.Stop()
	w, err := cs2.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: "2"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := next(t, w)
	if ev.Type != watch.Error {
		t.Fatalf("want ERROR, got %s", ev.Type)
	}
	if st := apierrors.FromObject(ev.Object); !apierrors.IsResourceExpired(st) && !apierrors.IsGone(st) {
		t.Fatalf("want 410 Expired, got %v", st)
	}
}

// secondServer starts another control plane on the given etcd.
func secondServer(t *testing.T, etcd []string) (*cluster.ControlPlane, kubernetes.Interface) {
	t.Helper()
	cp, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{Name: "second", EtcdServers: etcd})
	return cp, kubernetes.NewForConfigOrDie(cfg)
}

func TestInformerSyncsAndSeesChanges(t *testing.T) {
	ctx, cs, _, ns := setup(t)
	cms := cs.CoreV1().ConfigMaps(ns)
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pre"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	inf := factory.Core().V1().ConfigMaps().Informer()
	events := make(chan string, 10)
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o interface{}) { events <- "add " + o.(*corev1.ConfigMap).Name },
		UpdateFunc: func(_, o interface{}) { events <- "update " + o.(*corev1.ConfigMap).Name },
		DeleteFunc: func(o interface{}) {
			if cm, ok := o.(*corev1.ConfigMap); ok {
				events <- "delete " + cm.Name
			}
		},
	})
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if !cache.WaitForCacheSync(sctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync in 15s (WatchList or list+watch broken)")
	}
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("informer event %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no informer event, want %q", want)
		}
	}
	expect("add pre")
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "live"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect("add live")
	cm.Data = map[string]string{"k": "v"}
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("update live")
	if err := cms.Delete(ctx, "live", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("delete live")
}

// TestKubernetesEndpointsListEveryServer: two API servers on one etcd both
// appear in the kubernetes Service's endpoints; one that stops drops out.
func TestKubernetesEndpointsListEveryServer(t *testing.T) {
	ctx, cs, _, _ := setup(t)
	cp2, _ := clustertest.Start(t, cluster.ControlPlaneOptions{Name: "second", BindAddress: "127.0.0.2", EtcdServers: []string{testCP.EtcdURL}})
	addresses := func() []string {
		ep, err := cs.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil || len(ep.Subsets) == 0 {
			return nil
		}
		var ips []string
		for _, a := range ep.Subsets[0].Addresses {
			ips = append(ips, a.IP)
		}
		return ips
	}
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for fmt.Sprint(addresses()) != want {
			if time.Now().After(deadline) {
				t.Fatalf("kubernetes endpoints %v, want %s", addresses(), want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("[127.0.0.1 127.0.0.2]")
	cp2.Stop()
	waitFor("[127.0.0.1]")
}
