package images

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
)

// secretKeychain answers registry credentials from a pod's
// imagePullSecrets, the way the kubelet's credential provider does: the
// entry whose key (host, optionally with a path prefix) matches the image's
// repository most specifically wins; no match means anonymous.
type secretKeychain struct {
	entries []credential
}

type credential struct {
	host, path string // "127.0.0.1:5000", "team" (may be empty)
	cfg        authn.AuthConfig
}

// keychainFromSecrets reads kubernetes.io/dockerconfigjson (.dockerconfigjson,
// {"auths": {...}}) and kubernetes.io/dockercfg (.dockercfg, the bare map)
// secrets. A secret that does not parse is skipped, as the kubelet does:
// the pull may still work anonymously, and the failure names the cause.
func keychainFromSecrets(secrets []corev1.Secret) (*secretKeychain, []error) {
	kc := &secretKeychain{}
	var errs []error
	for _, sec := range secrets {
		auths, err := secretAuths(sec)
		if err != nil {
			errs = append(errs, fmt.Errorf("pull secret %s/%s: %w", sec.Namespace, sec.Name, err))
			continue
		}
		for key, cfg := range auths {
			host, path := registryKey(key)
			if host == "" {
				continue
			}
			kc.entries = append(kc.entries, credential{host: host, path: path, cfg: cfg})
		}
	}
	return kc, errs
}

func secretAuths(sec corev1.Secret) (map[string]authn.AuthConfig, error) {
	field := func(k string) []byte {
		if v, ok := sec.Data[k]; ok {
			return v
		}
		if v, ok := sec.StringData[k]; ok {
			return []byte(v)
		}
		return nil
	}
	switch {
	case sec.Type == corev1.SecretTypeDockerConfigJson || field(corev1.DockerConfigJsonKey) != nil:
		var f struct {
			Auths map[string]authn.AuthConfig `json:"auths"`
		}
		if err := json.Unmarshal(field(corev1.DockerConfigJsonKey), &f); err != nil {
			return nil, fmt.Errorf("parse %s: %w", corev1.DockerConfigJsonKey, err)
		}
		return f.Auths, nil
	case sec.Type == corev1.SecretTypeDockercfg || field(corev1.DockerConfigKey) != nil:
		var m map[string]authn.AuthConfig
		if err := json.Unmarshal(field(corev1.DockerConfigKey), &m); err != nil {
			return nil, fmt.Errorf("parse %s: %w", corev1.DockerConfigKey, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("type %q is not a docker config secret", sec.Type)
}

// registryKey splits a docker config key ("https://index.docker.io/v1/",
// "127.0.0.1:5000", "registry.example.com/team") into the host as
// go-containerregistry spells it and a repository path prefix.
func registryKey(key string) (host, path string) {
	key = strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(key), "https://"), "http://")
	host, path, _ = strings.Cut(key, "/")
	switch host {
	case dockerHub, ggcrDockerHub, "registry-1.docker.io":
		return ggcrDockerHub, "" // Docker Hub keys carry an API path ("/v1/"), not a repo
	}
	return host, strings.Trim(path, "/")
}

// Resolve implements authn.Keychain.
func (kc *secretKeychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	host := strings.ToLower(res.RegistryStr())
	repo := strings.TrimPrefix(strings.TrimPrefix(res.String(), res.RegistryStr()), "/")
	best := -1
	for i, c := range kc.entries {
		if c.host != host || (c.path != "" && repo != c.path && !strings.HasPrefix(repo, c.path+"/")) {
			continue
		}
		if best < 0 || len(c.path) > len(kc.entries[best].path) {
			best = i
		}
	}
	if best < 0 {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(kc.entries[best].cfg), nil
}
