package controllers

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/kubelab/kubelab/components/controllers/rootcacert"
)

func init() {
	register("root-ca-cert-publisher", func(c *clients) (func(context.Context) error, error) {
		rootCA, source, err := rootCA(c)
		if err != nil {
			return nil, err
		}
		if len(rootCA) == 0 {
			return func(ctx context.Context) error {
				slog.Info("root-ca-cert-publisher idle: no --root-ca-file and no CA in the kubeconfig, so there is no CA to publish")
				<-ctx.Done()
				return nil
			}, nil
		}
		kube, err := c.kube("root-ca-cert-publisher")
		if err != nil {
			return nil, err
		}
		core := c.informers.Core().V1()
		ctrl, err := rootcacert.New(kube, rootCA, core.Namespaces(), core.ConfigMaps())
		if err != nil {
			return nil, err
		}
		slog.Info("publishing the root CA into every namespace", "configmap", rootcacert.ConfigMapName, "from", source)
		return func(ctx context.Context) error { return ctrl.Run(ctx, 1) }, nil
	})
}

// rootCA is what upstream publishes: --root-ca-file, else the CA the
// controller manager itself trusts the API server with (its kubeconfig's).
func rootCA(c *clients) (pem []byte, source string, err error) {
	if f := c.settings.RootCAFile; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, "", fmt.Errorf("read --root-ca-file %s: %w", f, err)
		}
		return pem, f, nil
	}
	if len(c.cfg.CAData) > 0 {
		return c.cfg.CAData, "kubeconfig", nil
	}
	if f := c.cfg.CAFile; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, "", fmt.Errorf("read the kubeconfig's certificate authority %s: %w", f, err)
		}
		return pem, f, nil
	}
	return nil, "", nil
}
