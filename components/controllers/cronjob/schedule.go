package cronjob

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
)

// manyMissed: past this many missed start times upstream warns that the
// CronJob needs a startingDeadlineSeconds (or that the clock is off).
const manyMissed = 100

// nextScheduleDelta: come back a little after the scheduled time, so the
// clock has surely passed it.
const nextScheduleDelta = 100 * time.Millisecond

// parseSchedule reads spec.schedule (standard 5 fields or a descriptor
// like @hourly), in spec.timeZone if set. A "TZ=…" or "CRON_TZ=…" prefix in
// the schedule itself also works, though upstream discourages it.
func parseSchedule(cj *batchv1.CronJob) (cron.Schedule, error) {
	spec := cj.Spec.Schedule
	if cj.Spec.TimeZone != nil && !strings.Contains(spec, "TZ") {
		if _, err := time.LoadLocation(*cj.Spec.TimeZone); err != nil {
			return nil, fmt.Errorf("unknown time zone %s: %w", *cj.Spec.TimeZone, err)
		}
		spec = fmt.Sprintf("TZ=%s %s", *cj.Spec.TimeZone, spec)
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("parse schedule %q: %w", cj.Spec.Schedule, err)
	}
	return sched, nil
}

// unmet is the most recent start time that has passed and has not been
// acted on, and how many such times there were.
type unmet struct {
	latest *time.Time // nil: none since the last schedule
	missed int        // how many start times passed (0, 1, or an estimate)
}

// mostRecent finds the latest start time at or before now that comes after
// the last one handled (lastScheduleTime, else the CronJob's creation).
// With startingDeadlineSeconds, times older than the deadline do not count.
func mostRecent(cj *batchv1.CronJob, sched cron.Schedule, now time.Time, withDeadline bool) (earliest time.Time, u unmet, err error) {
	earliest = cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if withDeadline && cj.Spec.StartingDeadlineSeconds != nil {
		if d := now.Add(-time.Duration(*cj.Spec.StartingDeadlineSeconds) * time.Second); d.After(earliest) {
			earliest = d
		}
	}
	t1 := sched.Next(earliest)
	if t1.IsZero() || now.Before(t1) {
		return earliest, unmet{}, nil
	}
	t2 := sched.Next(t1)
	if now.Before(t2) {
		return earliest, unmet{latest: &t1, missed: 1}, nil
	}
	interval := t2.Sub(t1).Round(time.Second)
	if interval < time.Second {
		return earliest, unmet{}, errors.New("time difference between two schedules is less than 1 second")
	}
	// Many start times passed. Rather than step through each (a minutely
	// schedule missed for a year is half a million steps), look back from
	// now in growing windows until one holds a start time, then step to
	// the last one before now.
	latest := t1
	for w := interval; w < now.Sub(t1)+interval; w *= 2 {
		if t := sched.Next(now.Add(-w)); !t.After(now) && t.After(t1) {
			latest = t
			break
		}
	}
	for t := sched.Next(latest); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		latest = t
	}
	missed := int(now.Sub(t1)/interval) + 1
	return earliest, unmet{latest: &latest, missed: missed}, nil
}

// nextRun is how long to wait until the next start time after the most
// recent one (or after the last handled one), plus a small delta.
func nextRun(cj *batchv1.CronJob, sched cron.Schedule, now time.Time) (time.Duration, error) {
	earliest, u, err := mostRecent(cj, sched, now, false)
	if err != nil {
		return 0, err
	}
	from := earliest
	if u.latest != nil {
		from = *u.latest
	}
	next := sched.Next(from)
	if next.IsZero() {
		return 0, errors.New("schedule has no next time")
	}
	return next.Sub(now) + nextScheduleDelta, nil
}

// jobName is "<cronjob>-<scheduled time in minutes since the epoch>": the
// same start time always gives the same name, so a Job is never created
// twice for one start time, even across controller restarts.
func jobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}
