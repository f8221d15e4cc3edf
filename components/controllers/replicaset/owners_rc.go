package replicaset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
)

// NewReplicationController builds the same loop for core/v1
// ReplicationControllers, the pre-apps/v1 ancestor of ReplicaSets, like
// upstream's pkg/controller/replication: every RC is converted to a
// ReplicaSet on the way in (a map selector becomes matchLabels) and its
// status converted back on the way out. Events are recorded on the RC.
//
//	RC informer ─▶ rcToRS ─▶ the ReplicaSet sync ─▶ rsToRC ─▶ PUT rc/status
func NewReplicationController(kube kubernetes.Interface, rcs coreinformers.ReplicationControllerInformer, pods coreinformers.PodInformer, recorder record.EventRecorder) (*Controller, error) {
	o := replicationControllers{kube: kube, lister: rcs.Lister()}
	return newController("replicationcontroller", kube, o, rcs.Informer(), pods, rcRecorder{recorder})
}

type replicationControllers struct {
	kube   kubernetes.Interface
	lister corelisters.ReplicationControllerLister
}

func (replicationControllers) kind() schema.GroupVersionKind {
	return corev1.SchemeGroupVersion.WithKind("ReplicationController")
}

func (o replicationControllers) get(ns, name string) (*appsv1.ReplicaSet, error) {
	rc, err := o.lister.ReplicationControllers(ns).Get(name)
	if err != nil {
		return nil, err
	}
	return rcToRS(rc), nil
}

func (o replicationControllers) list(ns string) ([]*appsv1.ReplicaSet, error) {
	rcs, err := o.lister.ReplicationControllers(ns).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	out := make([]*appsv1.ReplicaSet, len(rcs))
	for i, rc := range rcs {
		out[i] = rcToRS(rc)
	}
	return out, nil
}

func (o replicationControllers) fresh(ctx context.Context, ns, name string) (*appsv1.ReplicaSet, error) {
	rc, err := o.kube.CoreV1().ReplicationControllers(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return rcToRS(rc), nil
}

func (o replicationControllers) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	out, err := o.kube.CoreV1().ReplicationControllers(rs.Namespace).UpdateStatus(ctx, rsToRC(rs), metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update status of replicationcontroller %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	return rcToRS(out), nil
}

// rcToRS converts a ReplicationController into the ReplicaSet the sync
// works on. The metadata (name, UID, resourceVersion, generation) is the
// RC's, so owner references and status updates point at the RC.
func rcToRS(rc *corev1.ReplicationController) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: *rc.ObjectMeta.DeepCopy()}
	rs.Spec.Replicas = rc.Spec.Replicas
	rs.Spec.MinReadySeconds = rc.Spec.MinReadySeconds
	if rc.Spec.Selector != nil {
		rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: copyMap(rc.Spec.Selector)}
	} else {
		// An RC without a selector selects nothing; the API server defaults
		// it from the template's labels, so this is only a malformed object.
		rs.Spec.Selector = &metav1.LabelSelector{}
	}
	if rc.Spec.Template != nil {
		rs.Spec.Template = *rc.Spec.Template.DeepCopy()
	}
	s := rc.Status
	rs.Status = appsv1.ReplicaSetStatus{
		Replicas: s.Replicas, FullyLabeledReplicas: s.FullyLabeledReplicas, ReadyReplicas: s.ReadyReplicas,
		AvailableReplicas: s.AvailableReplicas, ObservedGeneration: s.ObservedGeneration,
	}
	for _, c := range s.Conditions {
		rs.Status.Conditions = append(rs.Status.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	return rs
}

// rsToRC converts back. The RC has no terminatingReplicas: that count is
// dropped, as upstream does.
func rsToRC(rs *appsv1.ReplicaSet) *corev1.ReplicationController {
	rc := &corev1.ReplicationController{ObjectMeta: *rs.ObjectMeta.DeepCopy()}
	rc.Spec.Replicas = rs.Spec.Replicas
	rc.Spec.MinReadySeconds = rs.Spec.MinReadySeconds
	if rs.Spec.Selector != nil {
		rc.Spec.Selector = copyMap(rs.Spec.Selector.MatchLabels)
	}
	rc.Spec.Template = rs.Spec.Template.DeepCopy()
	s := rs.Status
	rc.Status = corev1.ReplicationControllerStatus{
		Replicas: s.Replicas, FullyLabeledReplicas: s.FullyLabeledReplicas, ReadyReplicas: s.ReadyReplicas,
		AvailableReplicas: s.AvailableReplicas, ObservedGeneration: s.ObservedGeneration,
	}
	for _, c := range s.Conditions {
		rc.Status.Conditions = append(rc.Status.Conditions, corev1.ReplicationControllerCondition{
			Type: corev1.ReplicationControllerConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	return rc
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// rcRecorder records events about converted ReplicaSets on the
// ReplicationController they came from: kubectl describe rc shows
// SuccessfulCreate, not an event about a ReplicaSet that does not exist.
type rcRecorder struct{ record.EventRecorder }

func (r rcRecorder) asRC(obj runtime.Object) runtime.Object {
	if rs, ok := obj.(*appsv1.ReplicaSet); ok {
		return rsToRC(rs)
	}
	return obj
}

func (r rcRecorder) Event(obj runtime.Object, eventtype, reason, message string) {
	r.EventRecorder.Event(r.asRC(obj), eventtype, reason, message)
}

func (r rcRecorder) Eventf(obj runtime.Object, eventtype, reason, messageFmt string, args ...any) {
	r.EventRecorder.Eventf(r.asRC(obj), eventtype, reason, messageFmt, args...)
}

func (r rcRecorder) AnnotatedEventf(obj runtime.Object, annotations map[string]string, eventtype, reason, messageFmt string, args ...any) {
	r.EventRecorder.AnnotatedEventf(r.asRC(obj), annotations, eventtype, reason, messageFmt, args...)
}
