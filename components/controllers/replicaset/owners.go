package replicaset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/tools/cache"
)

// owners is where the loop reads its owners and writes their status. The
// sync logic sees every owner as an apps/v1 ReplicaSet; ReplicationControllers
// are converted on the way in and out (see owners_rc.go), as upstream does.
type owners interface {
	kind() schema.GroupVersionKind
	get(ns, name string) (*appsv1.ReplicaSet, error)                        // from the cache
	list(ns string) ([]*appsv1.ReplicaSet, error)                           // from the cache
	fresh(ctx context.Context, ns, name string) (*appsv1.ReplicaSet, error) // a live GET
	updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error)
}

type replicaSets struct {
	kube   kubernetes.Interface
	lister appslisters.ReplicaSetLister
}

func rsOwners(kube kubernetes.Interface, informer cache.SharedIndexInformer) owners {
	return replicaSets{kube: kube, lister: appslisters.NewReplicaSetLister(informer.GetIndexer())}
}

func (replicaSets) kind() schema.GroupVersionKind {
	return appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
}

func (o replicaSets) get(ns, name string) (*appsv1.ReplicaSet, error) {
	return o.lister.ReplicaSets(ns).Get(name)
}

func (o replicaSets) list(ns string) ([]*appsv1.ReplicaSet, error) {
	return o.lister.ReplicaSets(ns).List(labels.Everything())
}

func (o replicaSets) fresh(ctx context.Context, ns, name string) (*appsv1.ReplicaSet, error) {
	return o.kube.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
}

func (o replicaSets) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	out, err := o.kube.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update status of replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	return out, nil
}
