package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func gameDemo() *corev1.ConfigMap {
	return defaulted(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "game-demo", Namespace: "default"},
		Data: map[string]string{
			"player_initial_lives":    "3",
			"ui_properties_file_name": "user-interface.properties",
			"game.properties":         "enemy.types=aliens,monsters\nplayer.maximum-lives=5\n",
		},
	})
}

func TestConfigMap(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(cm *corev1.ConfigMap)
		want   []string
	}{
		{"docs example is valid", func(cm *corev1.ConfigMap) {}, nil},
		{"key with a slash", func(cm *corev1.ConfigMap) { cm.Data["conf/app.yaml"] = "" },
			[]string{`data[conf/app.yaml]: Invalid value: "conf/app.yaml": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`}},
		{"key in data and binaryData", func(cm *corev1.ConfigMap) { cm.BinaryData = map[string][]byte{"player_initial_lives": {1}} },
			[]string{`data[player_initial_lives]: Invalid value: "player_initial_lives": duplicate of key present in binaryData`}},
		{"over 1 MiB", func(cm *corev1.ConfigMap) { cm.Data["big"] = strings.Repeat("x", 1024*1024) },
			[]string{"[]: Too long: may not be more than 1048576 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm := gameDemo()
			tt.mutate(cm)
			check(t, Create(cm), tt.want...)
		})
	}
	t.Run("immutable data stays", func(t *testing.T) {
		old := gameDemo()
		old.ResourceVersion, old.Immutable = "1", ptr.To(true)
		cm := old.DeepCopy()
		cm.Data["player_initial_lives"] = "4"
		check(t, Update(cm, old), "data: Forbidden: field is immutable when `immutable` is set")
		cm = old.DeepCopy()
		cm.Immutable = ptr.To(false)
		check(t, Update(cm, old), "immutable: Forbidden: field is immutable when `immutable` is set")
	})
	t.Run("mutable data may change", func(t *testing.T) {
		old := gameDemo()
		old.ResourceVersion = "1"
		cm := old.DeepCopy()
		cm.Data["player_initial_lives"] = "4"
		check(t, Update(cm, old))
	})
}

func TestSecret(t *testing.T) {
	tests := []struct {
		name string
		in   *corev1.Secret
		want []string
	}{
		{"opaque from stringData", &corev1.Secret{StringData: map[string]string{"username": "admin", "password": "t0p-Secret"}}, nil},
		{"bad key", &corev1.Secret{Data: map[string][]byte{"user name": []byte("x")}},
			[]string{`data[user name]: Invalid value: "user name"`}},
		{"tls without key", &corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("x")}},
			[]string{"data[tls.key]: Required value"}},
		{"dockerconfigjson not json", &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{".dockerconfigjson": []byte("{")}},
			[]string{`data[.dockerconfigjson]: Invalid value: "<secret contents redacted>"`}},
		{"basic-auth without fields", &corev1.Secret{Type: corev1.SecretTypeBasicAuth},
			[]string{"data[username]: Required value", "data[password]: Required value"}},
		{"token without service account", &corev1.Secret{Type: corev1.SecretTypeServiceAccountToken},
			[]string{"metadata.annotations[kubernetes.io/service-account.name]: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.ObjectMeta = metav1.ObjectMeta{Name: "secret-basic-auth", Namespace: "default"}
			check(t, Create(defaulted(tt.in)), tt.want...)
		})
	}
	t.Run("type is immutable", func(t *testing.T) {
		old := defaulted(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default", ResourceVersion: "1"}})
		s := old.DeepCopy()
		s.Type = "example.com/token"
		check(t, Update(s, old), `type: Invalid value: "example.com/token": field is immutable`)
	})
}

func TestPodDisruptionBudgetAndHPA(t *testing.T) {
	t.Run("PDB", func(t *testing.T) {
		pdb := zkPDB()
		check(t, Create(pdb))
		pdb.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(1))
		check(t, Create(pdb), "spec: Invalid value: ")
		pdb.Spec.MaxUnavailable = nil
		pdb.Spec.MinAvailable = ptr.To(intstr.FromString("120%"))
		check(t, Create(pdb), `spec.minAvailable: Invalid value: "120%": must not be greater than 100%`)
	})
	t.Run("HPA", func(t *testing.T) {
		h := phpApacheHPA()
		check(t, Create(h))
		h.Spec.MaxReplicas = 0
		check(t, Create(h), "spec.maxReplicas: Invalid value: 0: must be greater than 0",
			"spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`")
		h = phpApacheHPA()
		h.Spec.ScaleTargetRef.Name = ""
		check(t, Create(h), "spec.scaleTargetRef.name: Required value")
	})
}
