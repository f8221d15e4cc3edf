package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubelab/kubelab/components/apiserver/allocator"
	"github.com/kubelab/kubelab/components/apiserver/crd"
	"github.com/kubelab/kubelab/components/apiserver/defaults"
	"github.com/kubelab/kubelab/components/apiserver/fieldsel"
	"github.com/kubelab/kubelab/components/apiserver/registry"
	"github.com/kubelab/kubelab/components/apiserver/storage"
	"github.com/kubelab/kubelab/components/apiserver/tables"
	"github.com/kubelab/kubelab/components/apiserver/validation"
)

// strategy is the per-kind knowledge, gathered from its packages.
var strategy = registry.Strategy{
	Default:        defaults.Apply,
	ValidateCreate: validateCreate,
	ValidateUpdate: validateUpdate,
	Fields:         fieldsel.Fields,
}

func validateCreate(obj runtime.Object) field.ErrorList {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return validateCustomMeta(u)
	}
	return validation.Create(obj)
}

func validateUpdate(obj, old runtime.Object) field.ErrorList {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return validateCustomMeta(u)
	}
	return validation.Update(obj, old)
}

// validateCustomMeta checks a custom resource's metadata; its body is the
// CRD author's business (schema validation is future work).
func validateCustomMeta(u *unstructured.Unstructured) field.ErrorList {
	m, err := meta.Accessor(u)
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("metadata"), nil, err.Error())}
	}
	return apimachineryvalidation.ValidateObjectMetaAccessor(m, m.GetNamespace() != "",
		apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
}

func parseFieldSelector(gvk schema.GroupVersionKind, s string) (fields.Selector, error) {
	return fieldsel.Parse(gvk, s)
}

// buildRegistry registers every built-in resource with its hooks, and starts
// the CRD controller that registers custom resources.
func buildRegistry(ctx context.Context, store *storage.Store, o Options) (*registry.Registry, error) {
	reg := registry.New(ctx, store, strategy)
	reg.CacheSize = o.WatchCacheSize
	svcs, err := serviceAllocators(store, o)
	if err != nil {
		return nil, err
	}
	for _, info := range registry.Builtin() {
		info.Printer = tables.For(info.GVK)
		switch info.Resource {
		case "pods":
			info.Hooks = registry.PodHooks()
			info.Hooks.PrepareCreate = chainPrepare(info.Hooks.PrepareCreate,
				defaultTolerationSeconds(o.DefaultNotReadyTolerationSeconds, o.DefaultUnreachableTolerationSeconds))
		case "namespaces":
			info.Hooks = registry.NamespaceHooks()
		case "services":
			info.Hooks = serviceHooks(svcs)
		case "customresourcedefinitions":
			info.Hooks = crd.Hooks()
		case "events":
			info.TTL = o.EventTTL
		}
		if _, err := reg.Add(info); err != nil {
			return nil, err
		}
	}
	go crd.NewController(reg).Run(ctx)
	go repairServices(ctx, reg, svcs)
	return reg, nil
}

// serviceAllocators builds the ClusterIP (one per family) and NodePort
// allocators from --service-cluster-ip-range and --service-node-port-range.
func serviceAllocators(store *storage.Store, o Options) (*allocator.Services, error) {
	svcs := &allocator.Services{IPs: map[corev1.IPFamily]*allocator.IPAllocator{}}
	for i, c := range strings.Split(o.ServiceClusterIPRange, ",") {
		_, cidr, err := net.ParseCIDR(strings.TrimSpace(c))
		if err != nil {
			return nil, fmt.Errorf("--service-cluster-ip-range %q: %w", o.ServiceClusterIPRange, err)
		}
		a, err := allocator.NewIP(store.Client(), cidr, "/registry")
		if err != nil {
			return nil, fmt.Errorf("--service-cluster-ip-range %q: %w", c, err)
		}
		svcs.IPs[a.Family()] = a
		if i == 0 {
			svcs.DefaultFamily = a.Family()
		}
	}
	pr, err := utilnet.ParsePortRange(o.ServiceNodePortRange)
	if err != nil {
		return nil, fmt.Errorf("--service-node-port-range %q: %w", o.ServiceNodePortRange, err)
	}
	if svcs.Ports, err = allocator.NewPort(store.Client(), *pr, "/registry"); err != nil {
		return nil, err
	}
	return svcs, nil
}

// serviceHooks reserve cluster IPs and node ports around Service writes.
func serviceHooks(svcs *allocator.Services) registry.Hooks {
	return registry.Hooks{
		AdmitCreate: func(ctx context.Context, obj runtime.Object) (func(), error) {
			return svcs.Create(ctx, obj.(*corev1.Service))
		},
		AdmitUpdate: func(ctx context.Context, obj, old runtime.Object) (func(), func(), error) {
			return svcs.Update(ctx, obj.(*corev1.Service), old.(*corev1.Service))
		},
		AfterDelete: func(ctx context.Context, obj runtime.Object) {
			if err := svcs.Delete(ctx, obj.(*corev1.Service)); err != nil {
				slog.Warn("releasing service addresses", "service", obj.(*corev1.Service).Name, "err", err)
			}
		},
	}
}

// repairServices reconciles the allocation keys with the Services that
// exist (a crash between the two writes leaks or loses a reservation).
func repairServices(ctx context.Context, reg *registry.Registry, svcs *allocator.Services) {
	st := reg.MustLookup(schema.GroupVersionResource{Version: "v1", Resource: "services"})
	for ctx.Err() == nil {
		objs, _, err := st.List(ctx, "", registry.Selectors{})
		if err == nil {
			list := make([]corev1.Service, 0, len(objs))
			for _, o := range objs {
				list = append(list, *o.(*corev1.Service))
			}
			if err = svcs.Repair(ctx, list); err == nil {
				return
			}
		}
		slog.Warn("service allocation repair failed; retrying", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
}
