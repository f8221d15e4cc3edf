package scheduler

import (
	"fmt"
	"log/slog"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
	configv1 "k8s.io/kube-scheduler/config/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubelab/kubelab/components/scheduler/framework"
	"github.com/kubelab/kubelab/components/scheduler/plugins"
)

// DefaultSchedulerName is the profile pods get when they name none.
const DefaultSchedulerName = "default-scheduler"

// Profile is one schedulerName's plugins, in the order they run.
type Profile struct {
	Name       string
	PreFilters []framework.PreFilterPlugin
	Filters    []framework.FilterPlugin
	PreScores  []framework.PreScorePlugin
	Scores     []WeightedScore
	// PercentageOfNodesToScore: 0 is adaptive (upstream's default).
	PercentageOfNodesToScore int32
}

// WeightedScore is a score plugin and its weight.
type WeightedScore struct {
	Plugin framework.ScorePlugin
	Weight int64
}

// LoadConfig reads a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1)
// file. Unknown fields are errors naming the field.
func LoadConfig(path string) (*configv1.KubeSchedulerConfiguration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scheduler config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("scheduler config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes a KubeSchedulerConfiguration from YAML or JSON.
func ParseConfig(data []byte) (*configv1.KubeSchedulerConfiguration, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("parse yaml: %w", err)
	}
	var cfg configv1.KubeSchedulerConfiguration
	if err := plugins.StrictJSON(js, &cfg); err != nil {
		return nil, fmt.Errorf("decode KubeSchedulerConfiguration: %w", err)
	}
	if cfg.APIVersion != configv1.SchemeGroupVersion.String() || cfg.Kind != "KubeSchedulerConfiguration" {
		return nil, fmt.Errorf("apiVersion %q kind %q: want %s KubeSchedulerConfiguration", cfg.APIVersion, cfg.Kind, configv1.SchemeGroupVersion)
	}
	if len(cfg.Extenders) > 0 {
		return nil, fmt.Errorf("extenders: not supported by kubelab's scheduler")
	}
	if p := cfg.PercentageOfNodesToScore; p != nil && (*p < 0 || *p > 100) {
		return nil, fmt.Errorf("percentageOfNodesToScore %d: must be in 0..100", *p)
	}
	return &cfg, nil
}

// loadProfiles reads the config file (if any) and returns the profiles and
// the client rate limits (clientConnection; upstream's defaults 50/100).
func loadProfiles(path string) (map[string]*Profile, float32, int, *configv1.KubeSchedulerConfiguration, error) {
	var cfg *configv1.KubeSchedulerConfiguration
	if path != "" {
		var err error
		if cfg, err = LoadConfig(path); err != nil {
			return nil, 0, 0, nil, err
		}
	}
	profiles, err := BuildProfiles(cfg)
	if err != nil {
		return nil, 0, 0, nil, fmt.Errorf("scheduler config %s: %w", path, err)
	}
	qps, burst := float32(50), 100
	if cfg != nil && cfg.ClientConnection.QPS > 0 {
		qps = cfg.ClientConnection.QPS
	}
	if cfg != nil && cfg.ClientConnection.Burst > 0 {
		burst = int(cfg.ClientConnection.Burst)
	}
	return profiles, qps, burst, cfg, nil
}

// fromConfigFile applies what the configuration file says about the
// connection and leader election, as upstream does when --config is given
// (the hard way's kube-scheduler.yaml names its kubeconfig there and passes
// no --kubeconfig).
func fromConfigFile(o *Options, cfg *configv1.KubeSchedulerConfiguration) {
	if cfg == nil {
		return
	}
	if o.Kubeconfig == "" && cfg.ClientConnection.Kubeconfig != "" {
		o.Kubeconfig = cfg.ClientConnection.Kubeconfig
	}
	le := cfg.LeaderElection
	if le.LeaderElect != nil {
		o.LeaderElection.Enabled = *le.LeaderElect
	}
	if le.ResourceName != "" {
		o.LeaderElection.Name = le.ResourceName
	}
	if le.ResourceNamespace != "" {
		o.LeaderElection.Namespace = le.ResourceNamespace
	}
	if le.LeaseDuration.Duration > 0 {
		o.LeaderElection.LeaseDuration = le.LeaseDuration.Duration
	}
	if le.RenewDeadline.Duration > 0 {
		o.LeaderElection.RenewDeadline = le.RenewDeadline.Duration
	}
	if le.RetryPeriod.Duration > 0 {
		o.LeaderElection.RetryPeriod = le.RetryPeriod.Duration
	}
}

// BuildProfiles turns a configuration (nil: defaults) into profiles keyed
// by schedulerName: upstream's default plugins, then each profile's
// plugins.{multiPoint,preFilter,filter,preScore,score} enabled/disabled
// lists and pluginConfig args.
func BuildProfiles(cfg *configv1.KubeSchedulerConfiguration) (map[string]*Profile, error) {
	profiles := []configv1.KubeSchedulerProfile{{}}
	var pct int32
	if cfg != nil {
		if len(cfg.Profiles) > 0 {
			profiles = cfg.Profiles
		}
		if cfg.PercentageOfNodesToScore != nil {
			pct = *cfg.PercentageOfNodesToScore
		}
	}
	out := map[string]*Profile{}
	for i, p := range profiles {
		name := DefaultSchedulerName
		if p.SchedulerName != nil && *p.SchedulerName != "" {
			name = *p.SchedulerName
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("profiles[%d].schedulerName %q: duplicate", i, name)
		}
		prof, err := buildProfile(name, p, fmt.Sprintf("profiles[%d]", i))
		if err != nil {
			return nil, err
		}
		prof.PercentageOfNodesToScore = pct
		if p.PercentageOfNodesToScore != nil {
			prof.PercentageOfNodesToScore = *p.PercentageOfNodesToScore
		}
		out[name] = prof
	}
	return out, nil
}

func buildProfile(name string, p configv1.KubeSchedulerProfile, path string) (*Profile, error) {
	args := map[string]*runtime.RawExtension{}
	for i := range p.PluginConfig {
		pc := &p.PluginConfig[i]
		if _, ok := plugins.Registry[pc.Name]; !ok {
			return nil, fmt.Errorf("%s.pluginConfig[%d].name: unknown plugin %q", path, i, pc.Name)
		}
		if err := checkArgs(pc.Name, pc.Args.Raw); err != nil {
			return nil, fmt.Errorf("%s.pluginConfig[%d].args: %w", path, i, err)
		}
		args[pc.Name] = &pc.Args
	}
	filters := append([]string(nil), plugins.DefaultFilters...)
	scores := append([]plugins.WeightedName(nil), plugins.DefaultScores...)
	if ps := p.Plugins; ps != nil {
		var err error
		for _, set := range []struct {
			field string
			set   configv1.PluginSet
		}{{"multiPoint", ps.MultiPoint}, {"preFilter", ps.PreFilter}, {"filter", ps.Filter}} {
			if filters, err = applyNames(filters, set.set, path+".plugins."+set.field); err != nil {
				return nil, err
			}
		}
		for _, set := range []struct {
			field string
			set   configv1.PluginSet
		}{{"multiPoint", ps.MultiPoint}, {"preScore", ps.PreScore}, {"score", ps.Score}} {
			if scores, err = applyWeighted(scores, set.set, path+".plugins."+set.field); err != nil {
				return nil, err
			}
		}
	}
	instances := map[string]framework.Plugin{}
	get := func(n string) (framework.Plugin, error) {
		if pl, ok := instances[n]; ok {
			return pl, nil
		}
		pl, err := plugins.Registry[n](args[n])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		instances[n] = pl
		return pl, nil
	}
	prof := &Profile{Name: name}
	for _, n := range filters {
		pl, err := get(n)
		if err != nil {
			return nil, err
		}
		if f, ok := pl.(framework.FilterPlugin); ok {
			prof.Filters = append(prof.Filters, f)
		}
		if f, ok := pl.(framework.PreFilterPlugin); ok {
			prof.PreFilters = append(prof.PreFilters, f)
		}
	}
	for _, w := range scores {
		pl, err := get(w.Name)
		if err != nil {
			return nil, err
		}
		s, ok := pl.(framework.ScorePlugin)
		if !ok {
			return nil, fmt.Errorf("%s: plugin %q does not score", path, w.Name)
		}
		prof.Scores = append(prof.Scores, WeightedScore{Plugin: s, Weight: w.Weight})
		if f, ok := pl.(framework.PreScorePlugin); ok {
			prof.PreScores = append(prof.PreScores, f)
		}
	}
	return prof, nil
}

// checkArgs decodes args strictly into upstream's type for the plugin, so
// misspelled fields are caught even for plugins whose args we ignore.
func checkArgs(name string, raw []byte) error {
	if len(raw) == 0 {
		return nil
	}
	var v any
	switch name {
	case plugins.NodeResourcesFitName:
		return nil // decoded by the plugin itself
	case plugins.InterPodAffinityName:
		v = &configv1.InterPodAffinityArgs{}
	case plugins.PodTopologySpreadName:
		v = &configv1.PodTopologySpreadArgs{}
	case plugins.BalancedAllocationName:
		v = &configv1.NodeResourcesBalancedAllocationArgs{}
	case plugins.NodeAffinityName:
		v = &configv1.NodeAffinityArgs{}
	default:
		return fmt.Errorf("plugin %s takes no args", name)
	}
	if err := plugins.StrictJSON(raw, v); err != nil {
		return fmt.Errorf("%s args: %w", name, err)
	}
	slog.Warn("scheduler plugin args accepted but not used by kubelab", "plugin", name)
	return nil
}

func applyNames(names []string, set configv1.PluginSet, path string) ([]string, error) {
	for i, d := range set.Disabled {
		if d.Name == "*" {
			names = nil
			continue
		}
		if _, ok := plugins.Registry[d.Name]; !ok {
			return nil, fmt.Errorf("%s.disabled[%d].name: unknown plugin %q", path, i, d.Name)
		}
		names = removeName(names, d.Name)
	}
	for i, e := range set.Enabled {
		if _, ok := plugins.Registry[e.Name]; !ok {
			return nil, fmt.Errorf("%s.enabled[%d].name: unknown plugin %q", path, i, e.Name)
		}
		if pl, _ := plugins.Registry[e.Name](nil); pl != nil {
			_, isFilter := pl.(framework.FilterPlugin)
			_, isPre := pl.(framework.PreFilterPlugin)
			if (isFilter || isPre) && !contains(names, e.Name) {
				names = append(names, e.Name)
			}
		}
	}
	return names, nil
}

func applyWeighted(ws []plugins.WeightedName, set configv1.PluginSet, path string) ([]plugins.WeightedName, error) {
	for i, d := range set.Disabled {
		if d.Name == "*" {
			ws = nil
			continue
		}
		if _, ok := plugins.Registry[d.Name]; !ok {
			return nil, fmt.Errorf("%s.disabled[%d].name: unknown plugin %q", path, i, d.Name)
		}
		for j := 0; j < len(ws); j++ {
			if ws[j].Name == d.Name {
				ws = append(ws[:j:j], ws[j+1:]...)
				j--
			}
		}
	}
	for i, e := range set.Enabled {
		if _, ok := plugins.Registry[e.Name]; !ok {
			return nil, fmt.Errorf("%s.enabled[%d].name: unknown plugin %q", path, i, e.Name)
		}
		pl, _ := plugins.Registry[e.Name](nil)
		if _, ok := pl.(framework.ScorePlugin); !ok {
			if path[len(path)-5:] == "score" || path[len(path)-5:] == "Score" {
				return nil, fmt.Errorf("%s.enabled[%d].name: plugin %q does not score", path, i, e.Name)
			}
			continue
		}
		w := int64(1)
		if e.Weight != nil {
			if *e.Weight < 1 || *e.Weight > 100 {
				return nil, fmt.Errorf("%s.enabled[%d].weight %d: must be in 1..100", path, i, *e.Weight)
			}
			w = int64(*e.Weight)
		}
		found := false
		for j := range ws {
			if ws[j].Name == e.Name {
				if e.Weight != nil {
					ws[j].Weight = w
				}
				found = true
			}
		}
		if !found {
			ws = append(ws, plugins.WeightedName{Name: e.Name, Weight: w})
		}
	}
	return ws, nil
}

func removeName(names []string, n string) []string {
	var out []string
	for _, x := range names {
		if x != n {
			out = append(out, x)
		}
	}
	return out
}

func contains(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}
