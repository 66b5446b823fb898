//! Keys in the app's other modes: confirmations (that a repeated or held
//! key never answers), the filter, the command line, and the retune and
//! override forms.

use super::*;

impl App {
    pub(super) fn on_confirm_key(&mut self, c: Confirm, key: KeyEvent) -> Vec<Effect> {
        // A held key (auto-repeat) never answers a confirmation, and neither
        // does a second press of the key that opened it.
        if key.kind == KeyEventKind::Repeat || KeySpec::from_event(&key) == c.opened_by {
            self.mode = Mode::Confirm(c);
            return Vec::new();
        }
        let confirmed = match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => true,
            KeyCode::Enter => c.yes_focused,
            KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('N') => false,
            // The kill switch's scope: the selected order's engine, or all.
            KeyCode::Char('a') | KeyCode::Char('A') => {
                let kind = match c.kind {
                    ConfirmKind::KillSwitchOn {
                        engine,
                        selected,
                        engines,
                    } => ConfirmKind::KillSwitchOn {
                        engine: if engine.is_some() {
                            None
                        } else {
                            selected.clone()
                        },
                        selected,
                        engines,
                    },
                    other => other,
                };
                self.mode = Mode::Confirm(Confirm { kind, ..c });
                return Vec::new();
            }
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => {
                self.mode = Mode::Confirm(Confirm {
                    yes_focused: !c.yes_focused,
                    ..c
                });
                return Vec::new();
            }
            _ => {
                self.mode = Mode::Confirm(c);
                return Vec::new();
            }
        };
        if !confirmed {
            self.set_status("cancelled — nothing sent", StatusKind::Info);
            return Vec::new();
        }
        match c.kind {
            ConfirmKind::Cancel { order_id } => self.send(Command::Cancel { order_id }),
            ConfirmKind::KillSwitch => self.send(Command::KillSwitch {
                reason: Some("operator kill switch".into()),
            }),
            ConfirmKind::KillSwitchOn { engine, .. } => {
                let mut effects = self.send(Command::KillSwitch {
                    reason: Some("operator kill switch".into()),
                });
                if let Some(engine) = engine {
                    // Only the chosen engine halts.
                    for e in &mut effects {
                        if let Effect::Send(msg) = e {
                            *e = Effect::SendTo {
                                engine: engine.clone(),
                                msg: msg.clone(),
                            };
                        }
                    }
                }
                effects
            }
            ConfirmKind::KillModel { model, .. } => self.send(Command::KillModel {
                model,
                reason: Some("operator model kill switch".into()),
            }),
            ConfirmKind::RestoreModel { model } => self.send(Command::RestoreModel { model }),
        }
    }

    pub(super) fn on_filter_key(&mut self, mut text: String, key: KeyEvent) {
        match key.code {
            KeyCode::Esc => {
                self.filter.clear();
                return;
            }
            KeyCode::Enter => return,
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) => text.push(c),
            _ => {}
        }
        // Live filtering: the blotter narrows as the trader types.
        self.filter = text.clone();
        self.mode = Mode::Filter(text);
    }

    pub(super) fn on_command_line_key(&mut self, mut text: String, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => Vec::new(),
            KeyCode::Enter => self.run_command_line(&text),
            KeyCode::Backspace => {
                if text.pop().is_some() {
                    self.mode = Mode::CommandLine(text);
                }
                Vec::new()
            }
            KeyCode::Char(c) => {
                text.push(c);
                self.mode = Mode::CommandLine(text);
                Vec::new()
            }
            _ => {
                self.mode = Mode::CommandLine(text);
                Vec::new()
            }
        }
    }

    /// `:pause P-3`, `:retune P-3 max_participation=0.15`, `:theme light`, `:q`…
    pub fn run_command_line(&mut self, line: &str) -> Vec<Effect> {
        let mut words = line.split_whitespace();
        let Some(verb) = words.next() else {
            return Vec::new();
        };
        let args: Vec<&str> = words.collect();
        let order_arg = |args: &[&str]| -> Result<String, String> {
            args.first()
                .map(|s| s.to_string())
                .ok_or_else(|| format!(":{verb} needs an order id"))
        };
        // Verbs that a key also does go through `perform`, so both behave
        // the same (confirmations, refusals, what gets sent), on the order
        // they name.
        let enter = KeySpec::parse("Enter").expect("valid");
        let on_order =
            |app: &mut App, args: &[&str], action: Action| -> Result<Vec<Effect>, String> {
                let order_id = order_arg(args)?;
                Ok(app.perform(action, enter, Some(order_id)))
            };
        let result: Result<Vec<Effect>, String> = (|| match verb {
            "q" | "quit" => Ok(self.perform(Action::Quit, enter, None)),
            "theme" => match args.first() {
                Some(name) => Ok(vec![Effect::LoadTheme(name.to_string())]),
                None => Err(format!("themes: {}", self.theme_names.join(", "))),
            },
            "filter" => {
                self.filter = args.join(" ");
                Ok(Vec::new())
            }
            "freeze" if self.frozen.is_none() => Ok(self.perform(Action::Freeze, enter, None)),
            "unfreeze" if self.frozen.is_some() => Ok(self.perform(Action::Freeze, enter, None)),
            "freeze" | "unfreeze" => Ok(Vec::new()),
            "pause" | "resume" => {
                let order_id = order_arg(&args)?;
                let paused = self
                    .live
                    .view
                    .order(&order_id)
                    .map(|o| o.state == OrderState::Paused);
                match (verb, paused) {
                    ("pause", Some(true)) => Err(format!("{order_id} is paused already")),
                    ("resume", Some(false)) => Err(format!("{order_id} is not paused")),
                    _ => on_order(self, &args, Action::PauseResume),
                }
            }
            "release" | "release_override" => on_order(self, &args, Action::ReleaseOverride),
            "cancel" => on_order(self, &args, Action::Cancel),
            "model" => on_order(self, &args, Action::ModelSwitch),
            "resume_all" => Ok(self.perform(Action::ResumeAll, enter, None)),
            "kill" | "kill_switch" => Ok(self.perform(Action::KillSwitch, enter, None)),
            "retune" => {
                let order_id = order_arg(&args)?;
                let venues: Vec<String> = self
                    .live
                    .view
                    .order(&order_id)
                    .and_then(|o| self.live.view.instrument(&o.info.symbol))
                    .map(|i| i.venues.iter().map(|v| v.name.clone()).collect())
                    .unwrap_or_default();
                let mut params = crate::protocol::RetuneParams::default();
                if args.len() < 2 {
                    return Err(":retune ORDER key=value… (urgency, max_participation, target_participation, limit_price, min_child_qty, max_child_qty, venues)".into());
                }
                for kv in &args[1..] {
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| format!("expected key=value, got `{kv}`"))?;
                    set_retune_field(&mut params, k, v, &venues)?;
                }
                Ok(self.send(Command::Retune { order_id, params }))
            }
            "override" => {
                let order_id = order_arg(&args)?;
                let (mut action, mut strategy, mut decisions) = (None, None, None);
                for kv in args.iter().skip(1) {
                    match kv.split_once('=') {
                        Some(("action", v)) => action = Some(v.to_string()),
                        Some(("strategy", v)) => strategy = Some(v.to_string()),
                        Some(("decisions" | "n", v)) => {
                            decisions = Some(
                                v.parse::<u32>()
                                    .ok()
                                    .filter(|n| *n > 0)
                                    .ok_or("decisions must be a whole number ≥ 1")?,
                            )
                        }
                        _ => {
                            return Err(format!(
                                "unexpected `{kv}` (action=, strategy=, decisions=)"
                            ))
                        }
                    }
                }
                if action.is_some() == strategy.is_some() {
                    return Err(":override ORDER action=NAME|strategy=NAME [decisions=N]".into());
                }
                if let Some(a) = &action {
                    let actions = &self.live.view.contract.actions;
                    if !actions.is_empty() && !actions.contains(a) {
                        return Err(format!(
                            "unknown action `{a}` (known: {})",
                            actions.join(", ")
                        ));
                    }
                }
                Ok(self.send(Command::Override {
                    order_id,
                    action,
                    strategy,
                    decisions,
                }))
            }
            other => Err(format!("unknown command `:{other}` (press ? for help)")),
        })();
        match result {
            Ok(effects) => effects,
            Err(e) => {
                self.report_error(e);
                Vec::new()
            }
        }
    }

    pub(super) fn on_retune_key(&mut self, mut form: RetuneForm, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Enter => match form.to_command() {
                Ok(cmd) => return self.send(cmd),
                Err(e) => form.error = Some(e),
            },
            KeyCode::Tab | KeyCode::Down => form.focus = (form.focus + 1) % RETUNE_FIELDS.len(),
            KeyCode::BackTab | KeyCode::Up => {
                form.focus = (form.focus + RETUNE_FIELDS.len() - 1) % RETUNE_FIELDS.len()
            }
            KeyCode::Backspace => {
                form.fields[form.focus].pop();
            }
            KeyCode::Char(c) if key.kind != KeyEventKind::Repeat || c.is_ascii_digit() => {
                form.fields[form.focus].push(c)
            }
            _ => {}
        }
        self.mode = Mode::Retune(form);
        Vec::new()
    }

    pub(super) fn on_override_key(&mut self, mut form: OverrideForm, key: KeyEvent) -> Vec<Effect> {
        let n = form.choices.len().max(1);
        match key.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Enter => match form.to_command() {
                Ok(cmd) => return self.send(cmd),
                Err(e) => form.error = Some(e),
            },
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Down | KeyCode::Up => {
                form.focus = 1 - form.focus
            }
            KeyCode::Left if form.focus == 0 => form.choice = (form.choice + n - 1) % n,
            KeyCode::Right if form.focus == 0 => form.choice = (form.choice + 1) % n,
            KeyCode::Backspace if form.focus == 1 => {
                form.decisions.pop();
            }
            KeyCode::Char(c) if form.focus == 1 && c.is_ascii_digit() => form.decisions.push(c),
            _ => {}
        }
        self.mode = Mode::Override(form);
        Vec::new()
    }
}
