//! The `agent` step: the model calls sandboxed `bash` and `python` tools until it answers.

use std::time::Duration;

use crate::message::{Message, ToolDef};

use super::generate::call_model;
use super::tools::{ToolSandbox, exec_record, refused_record, tool_argument, tool_output};
use super::{AgentStep, SolveContext, SolveError, TaskState, ToolKind};

/// Runs the agent loop: generate → run each tool call in the sample's sandbox → append the
/// results → until the model answers without calling a tool or `max_messages` is reached.
/// The sandbox is created at the first tool call and torn down when the loop ends, however it
/// ends.
pub(super) async fn run(
    step: &AgentStep,
    state: &mut TaskState,
    ctx: &SolveContext<'_>,
) -> Result<(), SolveError> {
    let timeout = match step.tool_timeout_s {
        Some(s) => Some(
            Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    SolveError::Invalid(format!(
                        "agent: tool_timeout_s must be a positive number of seconds, not {s}"
                    ))
                })?,
        ),
        None => ctx.tool_timeout,
    };
    let mut tools: Vec<ToolKind> = Vec::new();
    for t in &step.tools {
        if !tools.contains(t) {
            tools.push(*t);
        }
    }
    let defs: Vec<ToolDef> = tools.iter().map(|t| t.definition()).collect();
    let max_messages = step.max_messages.unwrap_or(ctx.limits.max_messages);
    let mut sandbox = ToolSandbox::new(ctx.sandbox_policy);
    // The handle tears the sandbox down when dropped, so an error or a cancelled sample (the
    // future dropped mid-loop) still leaves nothing behind; on the normal path `close` waits
    // for the teardown and records a failure of it.
    let outcome = turns(
        state,
        ctx,
        &tools,
        &defs,
        max_messages,
        timeout,
        &mut sandbox,
    )
    .await;
    if let Err(why) = sandbox.close().await {
        state
            .sandbox_events
            .push(serde_json::json!({ "kind": "teardown_failed", "reason": why }));
    }
    outcome
}

async fn turns(
    state: &mut TaskState,
    ctx: &SolveContext<'_>,
    tools: &[ToolKind],
    defs: &[ToolDef],
    max_messages: u32,
    timeout: Option<Duration>,
    sandbox: &mut ToolSandbox,
) -> Result<(), SolveError> {
    loop {
        if state.limit_hit.is_some() {
            return Ok(());
        }
        if !call_model(state, ctx, max_messages, defs, None, None).await?
            || state.limit_hit.is_some()
        {
            return Ok(());
        }
        let calls = state
            .messages
            .last()
            .map(|m| m.tool_calls.clone())
            .unwrap_or_default();
        if calls.is_empty() {
            return Ok(());
        }
        for call in calls {
            if state.messages.len() >= max_messages as usize {
                state.limit_hit = Some(format!("max_messages ({max_messages})"));
                return Ok(());
            }
            let kind = tools.iter().copied().find(|t| t.name() == call.name);
            let reply = match kind {
                None => {
                    let offered: Vec<&str> = tools.iter().map(|t| t.name()).collect();
                    let why = format!(
                        "unknown tool; the tools offered are: {}",
                        offered.join(", ")
                    );
                    state
                        .tool_calls
                        .push(refused_record(&call.name, why.clone()));
                    format!("Error: {why}")
                }
                Some(kind) => match tool_argument(kind, &call.arguments) {
                    Err(why) => {
                        state
                            .tool_calls
                            .push(refused_record(kind.name(), format!("bad arguments: {why}")));
                        format!("Error: {why}")
                    }
                    Ok(text) => match sandbox.exec(kind.argv(text), timeout).await {
                        Ok(result) => {
                            state.tool_calls.push(exec_record(kind.name(), &result));
                            state.sandbox_events.extend(
                                result
                                    .events
                                    .iter()
                                    .filter_map(|e| serde_json::to_value(e).ok()),
                            );
                            tool_output(&result)
                        }
                        Err(why) => {
                            state
                                .tool_calls
                                .push(refused_record(kind.name(), why.clone()));
                            format!("Error: the tool did not run: {why}")
                        }
                    },
                },
            };
            state.messages.push(Message::tool(call.id, reply));
        }
    }
}
