package endpointslice

import (
	"maps"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubelab/kubelab/components/controllers/endpoints/membership"
)

// plan is the writes that bring a service's slices to the desired state.
// Fewest writes wins: every write to a slice is sent to every kube-proxy
// in the cluster.
type plan struct {
	create, update, delete []*discoveryv1.EndpointSlice
}

func (p plan) empty() bool { return len(p.create)+len(p.update)+len(p.delete) == 0 }

// target says whose slices these are and how they are dressed: a
// Service's (this controller) or a selectorless Service's hand-written
// Endpoints (the mirroring controller).
type target struct {
	namespace, name string // slices are named "<name>-xxxxx"
	labels          map[string]string
	// annotations, when not nil, are exactly the annotations the slices
	// carry (mirrored ones); when nil, annotations are not compared.
	annotations  map[string]string
	owner        metav1.OwnerReference // controller reference to the Service or Endpoints
	addressTypes []discoveryv1.AddressType
	maxPerSlice  int
	// placeholder: an address type without endpoints keeps one empty slice.
	placeholder bool
}

// serviceTarget is a Service's slices, as this controller makes them.
func serviceTarget(svc *corev1.Service, maxPerSlice int) target {
	yes := true
	return target{
		namespace: svc.Namespace, name: svc.Name,
		labels: sliceLabels(svc),
		owner: metav1.OwnerReference{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
			Controller: &yes, BlockOwnerDeletion: &yes},
		addressTypes: addressTypes(svc),
		maxPerSlice:  maxPerSlice,
		placeholder:  true,
	}
}

// reconcile plans the writes that give t's slices (existing, ours, from
// the cache) the desired content.
//
//	for each address type, for each port set:
//	  1. existing slices keep the endpoints still wanted (updated in place
//	     if one changed or went away); a slice left empty is deleted
//	  2. new endpoints fill the slices already being updated
//	  3. then one unchanged slice with room for all the rest
//	  4. then new slices of at most maxPerSlice
//	slices of port sets or address types no longer wanted are deleted;
//	for a Service, an address type with no endpoints keeps one empty
//	placeholder slice.
func reconcile(t target, existing []*discoveryv1.EndpointSlice, want desiredState) plan {
	var p plan
	byType := map[discoveryv1.AddressType]map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		// A slice of another object of the same name (deleted and
		// re-created) or of an address type no longer wanted goes.
		if _, ok := want[s.AddressType]; !ok || !ownedBy(s, t.owner) {
			p.delete = append(p.delete, s)
			continue
		}
		if byType[s.AddressType] == nil {
			byType[s.AddressType] = map[string][]*discoveryv1.EndpointSlice{}
		}
		pk := portsKey(s.Ports)
		byType[s.AddressType][pk] = append(byType[s.AddressType][pk], s)
	}

	for _, at := range t.addressTypes {
		var q plan
		have := byType[at]
		for _, pk := range sortedKeys(want[at]) {
			q.add(t.reconcilePorts(at, have[pk], want[at][pk]))
		}
		var haveCount int
		for _, pk := range sortedKeys(have) {
			haveCount += len(have[pk])
			if _, ok := want[at][pk]; !ok {
				q.delete = append(q.delete, have[pk]...)
			}
		}
		// Nothing would be left of this address type: keep (or create)
		// one empty slice, so consumers see "no endpoints" rather than
		// "not handled yet".
		if t.placeholder && len(q.create) == 0 && len(q.delete) == haveCount {
			if i := placeholderIndex(q.delete); i >= 0 {
				s := q.delete[i]
				q.delete = append(q.delete[:i], q.delete[i+1:]...)
				if !t.dressed(s) {
					s = s.DeepCopy()
					t.dress(s)
					q.update = append(q.update, s)
				}
			} else {
				q.create = append(q.create, t.newSlice(at, nil))
			}
		}
		p.add(q)
	}
	return p
}

func (p *plan) add(q plan) {
	p.create = append(p.create, q.create...)
	p.update = append(p.update, q.update...)
	p.delete = append(p.delete, q.delete...)
}

// reconcilePorts plans the slices of one address type and port set.
func (t target) reconcilePorts(at discoveryv1.AddressType, have []*discoveryv1.EndpointSlice, want *portSet) plan {
	var p plan
	var unchanged []*discoveryv1.EndpointSlice
	remaining := maps.Clone(want.endpoints)

	// 1. Keep what is still wanted where it is.
	sort.Slice(have, func(i, j int) bool { return have[i].Name < have[j].Name })
	for _, s := range have {
		changed := !t.dressed(s)
		var keep []discoveryv1.Endpoint
		for _, ep := range s.Endpoints {
			k := endpointKey(ep)
			w, ok := remaining[k]
			if !ok {
				changed = true // gone (or a duplicate)
				continue
			}
			if !endpointEqual(ep, w) {
				changed = true
			}
			keep = append(keep, w)
			delete(remaining, k)
		}
		switch {
		case len(keep) == 0:
			p.delete = append(p.delete, s)
		case changed:
			s = s.DeepCopy()
			t.dress(s)
			s.Endpoints = keep
			p.update = append(p.update, s)
		default:
			unchanged = append(unchanged, s)
		}
	}
	next := sortedKeys(remaining)
	take := func(s *discoveryv1.EndpointSlice) {
		for len(next) > 0 && len(s.Endpoints) < t.maxPerSlice {
			s.Endpoints = append(s.Endpoints, remaining[next[0]])
			next = next[1:]
		}
	}
	// 2. Slices we write anyway take new endpoints first, fullest first.
	sort.SliceStable(p.update, func(i, j int) bool { return len(p.update[i].Endpoints) > len(p.update[j].Endpoints) })
	for _, s := range p.update {
		take(s)
	}
	// 3. One more update beats a create: the fullest unchanged slice that
	// has room for everything left.
	if n := len(next); n > 0 && n < t.maxPerSlice {
		best := -1
		for i, s := range unchanged {
			if len(s.Endpoints)+n <= t.maxPerSlice && (best < 0 || len(s.Endpoints) > len(unchanged[best].Endpoints)) {
				best = i
			}
		}
		if best >= 0 {
			s := unchanged[best].DeepCopy()
			take(s)
			p.update = append(p.update, s)
		}
	}
	// 4. New slices for the rest.
	for len(next) > 0 {
		s := t.newSlice(at, want.ports)
		take(s)
		p.create = append(p.create, s)
	}
	return p
}

// newSlice is an empty slice of t, named by the API server from
// "<name>-", with a controller reference so it is garbage-collected with
// its owner.
func (t target) newSlice(at discoveryv1.AddressType, ports []discoveryv1.EndpointPort) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    t.name + "-",
			Namespace:       t.namespace,
			OwnerReferences: []metav1.OwnerReference{t.owner},
		},
		AddressType: at,
		Ports:       ports,
		Endpoints:   []discoveryv1.Endpoint{},
	}
	t.dress(s)
	return s
}

// dressed reports whether a slice carries t's labels (and annotations).
func (t target) dressed(s *discoveryv1.EndpointSlice) bool {
	return maps.Equal(s.Labels, t.labels) && (t.annotations == nil || maps.Equal(s.Annotations, t.annotations))
}

func (t target) dress(s *discoveryv1.EndpointSlice) {
	s.Labels = maps.Clone(t.labels)
	if t.annotations != nil {
		s.Annotations = maps.Clone(t.annotations)
	}
}

// sliceLabels are the service's labels plus the ones that tie a slice to
// its service and to this controller (they win over the service's own).
func sliceLabels(svc *corev1.Service) map[string]string {
	labels := map[string]string{}
	for k, v := range svc.Labels {
		if k != discoveryv1.LabelServiceName && k != discoveryv1.LabelManagedBy && k != corev1.IsHeadlessService {
			labels[k] = v
		}
	}
	if membership.Headless(svc) {
		labels[corev1.IsHeadlessService] = ""
	}
	labels[discoveryv1.LabelServiceName] = svc.Name
	labels[discoveryv1.LabelManagedBy] = ControllerName
	return labels
}

func ownedBy(s *discoveryv1.EndpointSlice, owner metav1.OwnerReference) bool {
	for _, ref := range s.OwnerReferences {
		if ref.Kind == owner.Kind && ref.UID == owner.UID {
			return true
		}
	}
	return false
}

func placeholderIndex(slices []*discoveryv1.EndpointSlice) int {
	for i, s := range slices {
		if len(s.Endpoints) == 0 && len(s.Ports) == 0 {
			return i
		}
	}
	return -1
}

// endpointEqual compares endpoints, ignoring resourceVersion in targetRef
// (it changes on every write of the pod, and says nothing about routing).
func endpointEqual(a, b discoveryv1.Endpoint) bool {
	return apiequality.Semantic.DeepEqual(withoutRefVersion(a), withoutRefVersion(b))
}

func withoutRefVersion(e discoveryv1.Endpoint) discoveryv1.Endpoint {
	if e.TargetRef != nil && e.TargetRef.ResourceVersion != "" {
		ref := *e.TargetRef
		ref.ResourceVersion = ""
		e.TargetRef = &ref
	}
	return e
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
