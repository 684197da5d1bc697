import type { DashboardProgressFragment } from '../generated/graphql.ts';

/** A labelled progress bar with the counts beside it, e.g. "14 of 17 done · 2 failed". */
export function ProgressBar(props: { progress: DashboardProgressFragment; label: string }) {
  const { progress } = props;
  const percent = Math.round(progress.percent);
  const finished = progress.completed + progress.failed;

  return (
    <div class="progress">
      <progress max={100} value={percent} aria-label={props.label} />
      <span class="progress-text">
        {percent} % · {finished} of {progress.total} done
        {progress.failed > 0 && <span class="progress-failed"> · {progress.failed} failed</span>}
      </span>
    </div>
  );
}
