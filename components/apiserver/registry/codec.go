package registry

import (
	"encoding/json"
	"fmt"
	"strconv"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	sigsjson "sigs.k8s.io/json"
)

// Scheme knows every built-in Go type kubelab serves, so request bodies in
// JSON, YAML or protobuf decode into k8s.io/api structs.
var Scheme = runtime.NewScheme()

// Codecs builds serializers from Scheme.
var Codecs serializer.CodecFactory

func init() {
	// Registration only fills in-memory tables: safe in every binary,
	// including the container init re-exec of libcontainer.
	if err := clientgoscheme.AddToScheme(Scheme); err != nil {
		panic(err)
	}
	if err := apiextensionsv1.AddToScheme(Scheme); err != nil {
		panic(err)
	}
	Codecs = serializer.NewCodecFactory(Scheme)
}

// NewObject returns an empty object of this resource's kind, typed or
// unstructured, with apiVersion and kind set.
func (i *Info) NewObject() runtime.Object {
	if i.New != nil {
		obj := i.New()
		obj.GetObjectKind().SetGroupVersionKind(i.GVK)
		return obj
	}
	u := &unstructured.Unstructured{Object: map[string]interface{}{}}
	u.SetGroupVersionKind(i.GVK)
	return u
}

// NewListObject returns an empty list of this resource's kind.
func (i *Info) NewListObject() runtime.Object {
	listGVK := i.GVK.GroupVersion().WithKind(i.GVK.Kind + "List")
	if i.NewList != nil {
		l := i.NewList()
		l.GetObjectKind().SetGroupVersionKind(listGVK)
		return l
	}
	l := &unstructured.UnstructuredList{Object: map[string]interface{}{}}
	l.SetGroupVersionKind(listGVK)
	return l
}

// Decode reads a stored value (JSON) into an object whose resourceVersion is
// the etcd revision rev. It is the storage.Decoder of this resource.
func (i *Info) Decode(data []byte, rev int64) (runtime.Object, error) {
	obj := i.NewObject()
	if u, ok := obj.(*unstructured.Unstructured); ok {
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("decode stored %s: %w", i.GVK.Kind, err)
		}
	} else if err := sigsjson.UnmarshalCaseSensitivePreserveInts(data, obj); err != nil {
		return nil, fmt.Errorf("decode stored %s: %w", i.GVK.Kind, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(i.GVK)
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	return obj, nil
}

// Encode writes an object as stored in etcd: JSON with apiVersion and kind,
// without a resourceVersion (etcd's revision is the resourceVersion).
func (i *Info) Encode(obj runtime.Object) ([]byte, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	defer m.SetResourceVersion(rv)
	obj.GetObjectKind().SetGroupVersionKind(i.GVK)
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", i.GVK.Kind, m.GetName(), err)
	}
	return data, nil
}

// ParseRV parses a resourceVersion ("" and "0" are 0).
func ParseRV(rv string) (int64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid resourceVersion %q", rv)
	}
	return n, nil
}
