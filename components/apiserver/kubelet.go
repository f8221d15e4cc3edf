package apiserver

import (
	"github.com/kubelab/kubelab/components/apiserver/kubeletclient"
)

// newKubeletClient builds the client for pods/log, exec, attach and
// portforward from the --kubelet-* options. Without a client certificate
// it still works against kubelets that do not ask for one.
func newKubeletClient(o Options) (*kubeletclient.Client, error) {
	types, err := kubeletclient.ParseAddressTypes(o.KubeletPreferredAddressTypes)
	if err != nil {
		return nil, err
	}
	return kubeletclient.New(kubeletclient.Config{
		CertFile: o.KubeletClientCertificate, KeyFile: o.KubeletClientKey,
		CAFile: o.KubeletCertificateAuthority, PreferredAddressTypes: types, Timeout: o.KubeletTimeout,
	})
}
