# Shared by the training scripts (source it; FR names the facerec binary).
# train_run DIR STEPS ARGS...: continues the run in DIR to STEPS when it exists (a resumed run keeps
# its own config), else starts it with ARGS.
train_run() {
  local dir=$1 steps=$2
  shift 2
  if [ -f "$dir/config.json" ]; then
    "$FR" train run "$dir" --resume --set "steps=$steps"
  else
    "$FR" train run "$dir" "$@"
  fi
}
