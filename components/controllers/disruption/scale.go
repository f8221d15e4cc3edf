package disruption

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// scaleOf is a controller and its spec.replicas.
type scaleOf struct {
	uid   types.UID
	scale int32
}

// expectedScale adds up the spec.replicas of the controllers of the pods,
// each controller once. Pods with no controller are returned by name: they
// cannot be counted (upstream warns and goes on). A controller we know no
// scale for is an error, as upstream's "found no controllers for pod".
func (c *Controller) expectedScale(pods []*corev1.Pod) (int32, []string, error) {
	scales := map[types.UID]int32{}
	var unmanaged []string
	for _, p := range pods {
		ref := metav1.GetControllerOfNoCopy(p)
		if ref == nil {
			unmanaged = append(unmanaged, p.Name)
			continue
		}
		if _, seen := scales[ref.UID]; seen {
			continue
		}
		found := false
		for _, find := range []func(*metav1.OwnerReference, string) *scaleOf{
			c.replicationController, c.deployment, c.replicaSet, c.statefulSet,
		} {
			if s := find(ref, p.Namespace); s != nil {
				scales[s.uid], found = s.scale, true
				break
			}
		}
		if !found {
			return 0, nil, fmt.Errorf("found no controllers for pod %q", p.Name)
		}
	}
	var total int32
	for _, n := range scales {
		total += n
	}
	return total, unmanaged, nil
}

func isKind(ref *metav1.OwnerReference, kind string, groups ...string) bool {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil || ref.Kind != kind {
		return false
	}
	for _, g := range groups {
		if gv.Group == g {
			return true
		}
	}
	return false
}

func replicasOr1(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

func (c *Controller) replicationController(ref *metav1.OwnerReference, ns string) *scaleOf {
	if !isKind(ref, "ReplicationController", "") {
		return nil
	}
	rc, err := c.rcs.ReplicationControllers(ns).Get(ref.Name)
	if err != nil || rc.UID != ref.UID {
		return nil
	}
	return &scaleOf{rc.UID, replicasOr1(rc.Spec.Replicas)}
}

// replicaSet counts a ReplicaSet on its own only when no Deployment
// controls it: a Deployment's pods are counted by the Deployment's scale
// (during a rollout its ReplicaSets add up to more).
func (c *Controller) replicaSet(ref *metav1.OwnerReference, ns string) *scaleOf {
	if !isKind(ref, "ReplicaSet", "apps", "extensions") {
		return nil
	}
	rs, err := c.rss.ReplicaSets(ns).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	if owner := metav1.GetControllerOfNoCopy(rs); owner != nil && owner.Kind == "Deployment" {
		return nil
	}
	return &scaleOf{rs.UID, replicasOr1(rs.Spec.Replicas)}
}

func (c *Controller) deployment(ref *metav1.OwnerReference, ns string) *scaleOf {
	if !isKind(ref, "ReplicaSet", "apps", "extensions") {
		return nil
	}
	rs, err := c.rss.ReplicaSets(ns).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	owner := metav1.GetControllerOfNoCopy(rs)
	if owner == nil || !isKind(owner, "Deployment", "apps", "extensions") {
		return nil
	}
	d, err := c.deployments.Deployments(ns).Get(owner.Name)
	if err != nil || d.UID != owner.UID {
		return nil
	}
	return &scaleOf{d.UID, replicasOr1(d.Spec.Replicas)}
}

func (c *Controller) statefulSet(ref *metav1.OwnerReference, ns string) *scaleOf {
	if !isKind(ref, "StatefulSet", "apps") {
		return nil
	}
	ss, err := c.statefulSets.StatefulSets(ns).Get(ref.Name)
	if err != nil || ss.UID != ref.UID {
		return nil
	}
	return &scaleOf{ss.UID, replicasOr1(ss.Spec.Replicas)}
}
