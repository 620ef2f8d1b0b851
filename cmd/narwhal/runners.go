package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/console"
)

const runnersHelp = `Usage: narwhal runners [flags]

Lists the registered runners: state, busy and total job slots, disk use,
labels, version, and when each last reported. A runner under disk pressure
(its disk above the high watermark: it takes no jobs while it frees space)
is marked "pressure" in the DISK column, with its reason below the table.

Flags:
  --json            print {"runners": [...]} for scripts
` + apiFlagsHelp + `
Examples:
  narwhal runners
  narwhal runners --json | jq -r '.runners[] | select(.state == "offline") | .id'
`

// runRunners is `narwhal runners`.
func runRunners(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("runners", runnersHelp, stderr)
	o := addAPIFlags(fs)
	asJSON := fs.Bool("json", false, "")
	if _, ok, err := parseCommand(fs, args, 0, runnersHelp, stderr); !ok {
		return err
	}
	c, err := o.client("runners", stderr)
	if err != nil {
		return err
	}
	rs, err := c.Runners(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if rs == nil {
			rs = []ci.Runner{}
		}
		return printJSON(stdout, api.RunnerList{Runners: rs})
	}
	printRunners(stdout, rs, time.Now())
	return nil
}

func printRunners(w io.Writer, rs []ci.Runner, now time.Time) {
	if len(rs) == 0 {
		fmt.Fprintln(w, "no runners")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tJOBS\tDISK\tLABELS\tVERSION\tHEARTBEAT\tADDRESS")
	for _, r := range rs {
		labels := cmp.Or(strings.Join(r.Labels, ","), "-")
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.State, r.Running, r.Capacity, disk(r), labels,
			cmp.Or(r.Version, "-"), relTime(r.LastHeartbeat, now), r.Address)
	}
	tw.Flush()
	for _, r := range rs {
		if r.DiskPressure != "" {
			fmt.Fprintf(w, "%s: disk pressure, takes no jobs: %s\n", r.ID, r.DiskPressure)
		}
	}
}

// disk is the DISK column: how full the runner's fullest filesystem is,
// with its free space, and "pressure" while it takes no jobs because of it
// (the reason follows the table); "-" from a runner that does not report.
func disk(r ci.Runner) string {
	if r.DiskUsedPercent <= 0 && r.DiskPressure == "" {
		return "-"
	}
	s := fmt.Sprintf("%.0f%%", r.DiskUsedPercent)
	if r.FreeDiskBytes > 0 {
		s += " (" + console.Bytes(r.FreeDiskBytes) + " free)"
	}
	if r.DiskPressure != "" {
		s += " pressure"
	}
	return s
}

const drainHelp = `Usage: narwhal drain [flags] RUNNER_ID

Drains a runner: it takes no new jobs, finishes the ones it runs, and then
stops. Draining a runner that already drains is fine.

Flags:
` + apiFlagsHelp + `
Examples:
  narwhal drain runner-7f3a
  narwhal runners --json | jq -r '.runners[].id' | xargs -n1 narwhal drain
`

// runDrain is `narwhal drain RUNNER_ID`.
func runDrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("drain", drainHelp, stderr)
	o := addAPIFlags(fs)
	pos, ok, err := parseCommand(fs, args, 1, drainHelp, stderr)
	if !ok {
		return err
	}
	c, err := o.client("drain", stderr)
	if err != nil {
		return err
	}
	d, err := c.Drain(ctx, pos[0])
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "runner %s is %s: it takes no new jobs and stops when its running jobs end\n", d.RunnerID, d.State)
	return err
}
