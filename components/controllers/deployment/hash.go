package deployment

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/dump"
)

// ComputeHash is upstream's controller.ComputeHash, the pod-template-hash:
// FNV-32a over a deterministic dump of the template (spew, sorted map keys,
// no pointer addresses: what upstream's hashutil.DeepHashObject writes),
// then the collision count as 8 little-endian bytes if set, and the number
// rendered with rand.SafeEncodeString (no vowels, so no words). The same
// template therefore gets the same ReplicaSet name as on a real cluster of
// the same API version.
//
// collisionCount is status.collisionCount: when a ReplicaSet of that name
// exists with another template, the controller bumps it and tries again.
func ComputeHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(*template))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}
