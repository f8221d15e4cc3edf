package validation

import (
	"math"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podOptions are the few ways a pod spec's rules depend on where it is.
type podOptions struct {
	// isPod: the spec belongs to a Pod object, not to a template that
	// defaulting will complete later (upstream's ResourceIsPod).
	isPod bool
	// claimTemplates are volume names a StatefulSet's volumeClaimTemplates
	// provide, so that volumeMounts may name them.
	claimTemplates []string
}

var specPath = field.NewPath("spec")

// pod validates a Pod: metadata, spec, and the checks upstream applies only
// to pods (not to templates).
func pod(p *corev1.Pod) field.ErrorList {
	errs := objectMeta(&p.ObjectMeta, schema.GroupKind{Kind: "Pod"})
	errs = append(errs, podSpec(&p.Spec, specPath, podOptions{isPod: true})...)
	// A projected token is minted for the pod's service account, so there
	// must be one.
	if p.Spec.ServiceAccountName == "" {
		for i, v := range p.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for j, src := range v.Projected.Sources {
				if src.ServiceAccountToken != nil {
					errs = append(errs, field.Forbidden(specPath.Child("volumes").Index(i).Child("projected", "sources").Index(j).Child("serviceAccountToken"),
						"must not be specified when serviceAccountName is not set"))
				}
			}
		}
	}
	return errs
}

// podTemplateSpec validates the pod template inside a workload. Note the
// label path: upstream reports template labels as <template>.labels, not
// <template>.metadata.labels, and kubectl users see it that way.
func podTemplateSpec(t *corev1.PodTemplateSpec, p *field.Path, claimTemplates []string) field.ErrorList {
	errs := metav1validation.ValidateLabels(t.Labels, p.Child("labels"))
	errs = append(errs, apimachineryvalidation.ValidateAnnotations(t.Annotations, p.Child("annotations"))...)
	errs = append(errs, podSpec(&t.Spec, p.Child("spec"), podOptions{claimTemplates: claimTemplates})...)
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(p.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return errs
}

// podSpec mirrors upstream's ValidatePodSpec for the fields kubelab uses.
func podSpec(spec *corev1.PodSpec, p *field.Path, opts podOptions) field.ErrorList {
	var errs field.ErrorList
	if spec.TerminationGracePeriodSeconds == nil {
		errs = append(errs, field.Required(p.Child("terminationGracePeriodSeconds"), ""))
	}
	vols, volErrs := volumes(spec.Volumes, p.Child("volumes"))
	errs = append(errs, volErrs...)
	for _, name := range opts.claimTemplates {
		vols.Insert(name)
	}
	errs = append(errs, allContainers(spec, vols, p, opts)...)
	errs = append(errs, oneOf(string(spec.RestartPolicy), p.Child("restartPolicy"),
		string(corev1.RestartPolicyAlways), string(corev1.RestartPolicyOnFailure), string(corev1.RestartPolicyNever))...)
	errs = append(errs, oneOf(string(spec.DNSPolicy), p.Child("dnsPolicy"),
		string(corev1.DNSClusterFirstWithHostNet), string(corev1.DNSClusterFirst), string(corev1.DNSDefault), string(corev1.DNSNone))...)
	errs = append(errs, dnsConfig(spec, p.Child("dnsConfig"))...)
	errs = append(errs, metav1validation.ValidateLabels(spec.NodeSelector, p.Child("nodeSelector"))...)
	errs = append(errs, podSecurityContext(spec.SecurityContext, p.Child("securityContext"))...)
	errs = append(errs, tolerations(spec.Tolerations, p.Child("tolerations"))...)
	errs = append(errs, schedulingGates(spec.SchedulingGates, p.Child("schedulingGates"))...)
	errs = append(errs, topologySpread(spec.TopologySpreadConstraints, p.Child("topologySpreadConstraints"))...)

	nameRules := []struct {
		value string
		path  string
		rule  apimachineryvalidation.ValidateNameFunc
	}{
		{spec.ServiceAccountName, "serviceAccountName", apimachineryvalidation.ValidateServiceAccountName},
		{spec.NodeName, "nodeName", apimachineryvalidation.NameIsDNSSubdomain},
		{spec.PriorityClassName, "priorityClassName", apimachineryvalidation.NameIsDNSSubdomain},
		{spec.Hostname, "hostname", apimachineryvalidation.NameIsDNSLabel},
		{spec.Subdomain, "subdomain", apimachineryvalidation.NameIsDNSLabel},
	}
	for _, n := range nameRules {
		if n.value == "" {
			continue
		}
		for _, msg := range n.rule(n.value, false) {
			errs = append(errs, field.Invalid(p.Child(n.path), n.value, msg))
		}
	}
	if spec.ActiveDeadlineSeconds != nil {
		if v := *spec.ActiveDeadlineSeconds; v < 1 || v > math.MaxInt32 {
			errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), v, utilvalidation.InclusiveRangeError(1, math.MaxInt32)))
		}
	}
	if spec.PreemptionPolicy != nil {
		errs = append(errs, oneOf(string(*spec.PreemptionPolicy), p.Child("preemptionPolicy"),
			string(corev1.PreemptLowerPriority), string(corev1.PreemptNever))...)
	}
	for i, alias := range spec.HostAliases {
		errs = append(errs, utilvalidation.IsValidIP(p.Child("hostAliases").Index(i).Child("ip"), alias.IP)...)
		for j, h := range alias.Hostnames {
			errs = append(errs, dns1123Subdomain(h, p.Child("hostAliases").Index(i).Child("hostnames").Index(j))...)
		}
	}
	for i, g := range spec.ReadinessGates {
		errs = append(errs, qualifiedName(string(g.ConditionType), p.Child("readinessGates").Index(i).Child("conditionType"))...)
	}
	return errs
}

// dnsConfig: with dnsPolicy None the pod's resolv.conf comes entirely from
// dnsConfig, so it needs at least one nameserver.
func dnsConfig(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	cfg := spec.DNSConfig
	if spec.DNSPolicy == corev1.DNSNone {
		if cfg == nil {
			return field.ErrorList{field.Required(p, "must provide `dnsConfig` when `dnsPolicy` is None")}
		}
		if len(cfg.Nameservers) == 0 {
			return field.ErrorList{field.Required(p.Child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None")}
		}
	}
	if cfg == nil {
		return nil
	}
	var errs field.ErrorList
	if len(cfg.Nameservers) > 3 {
		errs = append(errs, field.Invalid(p.Child("nameservers"), cfg.Nameservers, "must not have more than 3 nameservers"))
	}
	for i, ns := range cfg.Nameservers {
		errs = append(errs, utilvalidation.IsValidIP(p.Child("nameservers").Index(i), ns)...)
	}
	for i, s := range cfg.Searches {
		if s != "." {
			errs = append(errs, dns1123Subdomain(strings.TrimSuffix(s, "."), p.Child("searches").Index(i))...)
		}
	}
	for i, o := range cfg.Options {
		if o.Name == "" {
			errs = append(errs, field.Required(p.Child("options").Index(i), "must not be empty"))
		}
	}
	return errs
}

func podSecurityContext(sc *corev1.PodSecurityContext, p *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	var errs field.ErrorList
	if sc.RunAsUser != nil {
		for _, msg := range utilvalidation.IsValidUserID(*sc.RunAsUser) {
			errs = append(errs, field.Invalid(p.Child("runAsUser"), *sc.RunAsUser, msg))
		}
	}
	if sc.RunAsGroup != nil {
		for _, msg := range utilvalidation.IsValidGroupID(*sc.RunAsGroup) {
			errs = append(errs, field.Invalid(p.Child("runAsGroup"), *sc.RunAsGroup, msg))
		}
	}
	if sc.FSGroup != nil {
		for _, msg := range utilvalidation.IsValidGroupID(*sc.FSGroup) {
			errs = append(errs, field.Invalid(p.Child("fsGroup"), *sc.FSGroup, msg))
		}
	}
	for i, g := range sc.SupplementalGroups {
		for _, msg := range utilvalidation.IsValidGroupID(g) {
			errs = append(errs, field.Invalid(p.Child("supplementalGroups").Index(i), g, msg))
		}
	}
	return errs
}

// tolerations mirrors upstream's ValidateTolerations.
func tolerations(list []corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range list {
		idx := p.Index(i)
		if t.Key != "" {
			errs = append(errs, metav1validation.ValidateLabelName(t.Key, idx.Child("key"))...)
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(idx.Child("operator"), t.Operator,
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(idx.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			if msgs := utilvalidation.IsValidLabelValue(t.Value); len(msgs) > 0 {
				errs = append(errs, field.Invalid(idx.Child("operator"), t.Value, strings.Join(msgs, ";")))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(idx.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(idx.Child("operator"), t.Operator,
				[]corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}))
		}
		if t.Effect != "" {
			errs = append(errs, taintEffect(t.Effect, idx.Child("effect"))...)
		}
	}
	return errs
}

func taintEffect(e corev1.TaintEffect, p *field.Path) field.ErrorList {
	return oneOf(string(e), p, string(corev1.TaintEffectNoSchedule), string(corev1.TaintEffectPreferNoSchedule), string(corev1.TaintEffectNoExecute))
}

func schedulingGates(gates []corev1.PodSchedulingGate, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, g := range gates {
		errs = append(errs, qualifiedName(g.Name, p.Index(i))...)
		if seen.Has(g.Name) {
			errs = append(errs, field.Duplicate(p.Index(i), g.Name))
		}
		seen.Insert(g.Name)
	}
	return errs
}

func topologySpread(constraints []corev1.TopologySpreadConstraint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, c := range constraints {
		idx := p.Index(i)
		if c.MaxSkew <= 0 {
			errs = append(errs, field.Invalid(idx.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
		}
		if c.TopologyKey == "" {
			errs = append(errs, field.Required(idx.Child("topologyKey"), "can not be empty"))
		} else {
			errs = append(errs, metav1validation.ValidateLabelName(c.TopologyKey, idx.Child("topologyKey"))...)
		}
		errs = append(errs, oneOf(string(c.WhenUnsatisfiable), idx.Child("whenUnsatisfiable"),
			string(corev1.DoNotSchedule), string(corev1.ScheduleAnyway))...)
		errs = append(errs, metav1validation.ValidateLabelSelector(c.LabelSelector,
			metav1validation.LabelSelectorValidationOptions{}, idx.Child("labelSelector"))...)
	}
	return errs
}
