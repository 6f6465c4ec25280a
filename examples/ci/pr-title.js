// A CI check for `javascriptd run`: a pull request's title must follow
// Conventional Commits ("feat(cli): …"). `event` is the GitHub event, given with
// --event "$GITHUB_EVENT_PATH". Throwing fails the job (exit code 1).
function check(cb) {
  const pr = event.pull_request;
  console.log(`#${pr.number} "${pr.title}" by ${pr.user.login}`);
  if (!/^(feat|fix|docs|chore|refactor|test|perf|ci|build)(\([\w-]+\))?!?: \S/.test(pr.title)) {
    throw new Error(`the title "${pr.title}" does not follow Conventional Commits (type(scope): summary)`);
  }
  cb({ ok: true, type: pr.title.split(/[(:!]/)[0] });
}
