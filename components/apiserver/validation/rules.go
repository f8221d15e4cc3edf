package validation

import (
	"strconv"
	"strings"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// This file holds the small rules every kind uses, in the shapes upstream
// reports them.

// oneOf is the shape of most enum checks upstream: empty is "Required value",
// anything unknown is "Unsupported value" listing what would be accepted.
func oneOf(value string, p *field.Path, allowed ...string) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(p, value, allowed)}
}

func dns1123Label(value string, p *field.Path) field.ErrorList {
	return messages(value, p, utilvalidation.IsDNS1123Label(value))
}

func dns1123Subdomain(value string, p *field.Path) field.ErrorList {
	return messages(value, p, utilvalidation.IsDNS1123Subdomain(value))
}

func qualifiedName(value string, p *field.Path) field.ErrorList {
	return messages(value, p, utilvalidation.IsQualifiedName(value))
}

// messages turns the []string the util/validation checks return into
// Invalid errors at one path.
func messages(value any, p *field.Path, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(p, value, msg))
	}
	return errs
}

// nonNegative is upstream's ValidateNonnegativeField for any integer.
func nonNegative[T ~int32 | ~int64 | ~int](value T, p *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateNonnegativeField(int64(value), p)
}

// greaterThanZero is for counts that must be at least 1.
func greaterThanZero[T ~int32 | ~int64](value T, p *field.Path) field.ErrorList {
	if value <= 0 {
		return field.ErrorList{field.Invalid(p, value, "must be greater than 0")}
	}
	return nil
}

// intOrPercent: rollout knobs like maxSurge are a pod count or a percentage
// of the desired count ("25%"). A nil value was left to defaulting.
func intOrPercent(v *intstr.IntOrString, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	switch v.Type {
	case intstr.String:
		return messages(*v, p, utilvalidation.IsValidPercent(v.StrVal))
	case intstr.Int:
		return nonNegative(v.IntValue(), p)
	}
	return field.ErrorList{field.Invalid(p, *v, "must be an integer or percentage (e.g '5%')")}
}

// percentValue returns 25 and true for "25%".
func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(utilvalidation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	return n, true
}

// intOrPercentValue is the number, whichever way it was written; nil is 0.
func intOrPercentValue(v *intstr.IntOrString) int {
	if v == nil {
		return 0
	}
	if n, ok := percentValue(*v); ok {
		return n
	}
	return v.IntValue()
}

// intOrPercentShown is the value as error messages show it.
func intOrPercentShown(v *intstr.IntOrString) intstr.IntOrString {
	if v == nil {
		return intstr.IntOrString{}
	}
	return *v
}

func notMoreThan100Percent(v *intstr.IntOrString, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	if n, ok := percentValue(*v); ok && n > 100 {
		return field.ErrorList{field.Invalid(p, *v, "must not be greater than 100%")}
	}
	return nil
}
