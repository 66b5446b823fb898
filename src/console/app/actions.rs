//! What the keys do in the normal (blotter) mode, and the commands they
//! send: one handler (`perform`) for a key and for a command-line verb.

use super::*;

impl App {
    pub(super) fn on_normal_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(action) = self.keymap.action_for(&key) else {
            return Vec::new();
        };
        let navigation = matches!(
            action,
            Action::Up
                | Action::Down
                | Action::PageUp
                | Action::PageDown
                | Action::Top
                | Action::Bottom
        );
        // Holding a key down may move the selection, but never fires a command.
        if key.kind == KeyEventKind::Repeat && !navigation {
            return Vec::new();
        }
        self.perform(action, KeySpec::from_event(&key), None)
    }

    /// What an action does, whether a key or the command line asked for it.
    /// `opened_by` is the key a confirmation it opens must not accept;
    /// `target` the order it acts on when named (the command line), else the
    /// selected one.
    pub(super) fn perform(
        &mut self,
        action: Action,
        opened_by: KeySpec,
        target: Option<String>,
    ) -> Vec<Effect> {
        self.target = target;
        let effects = self.perform_on_target(action, opened_by);
        self.target = None;
        effects
    }

    pub(super) fn perform_on_target(&mut self, action: Action, opened_by: KeySpec) -> Vec<Effect> {
        match action {
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::PageUp => self.move_selection(-20),
            Action::PageDown => self.move_selection(20),
            Action::Top => self.move_selection(i64::MIN / 2),
            Action::Bottom => self.move_selection(i64::MAX / 2),
            Action::FocusDetail => {
                self.focus = match self.focus {
                    Focus::Blotter => Focus::Detail,
                    Focus::Detail => Focus::Blotter,
                }
            }
            Action::Back => {
                self.focus = Focus::Blotter;
                self.status = None;
            }
            Action::Freeze => {
                self.frozen = match self.frozen.take() {
                    Some(_) => None,
                    None => Some(Box::new(self.live.clone())),
                }
            }
            Action::Filter => self.mode = Mode::Filter(self.filter.clone()),
            Action::CommandLine => self.mode = Mode::CommandLine(String::new()),
            Action::Help => self.mode = Mode::Help,
            Action::Sort => {
                self.sort = match self.sort {
                    SortBy::Arrival => SortBy::Behind,
                    SortBy::Behind => SortBy::Slippage,
                    // Over many engines, grouping by engine is one more step.
                    SortBy::Slippage if !self.fleet.is_empty() => SortBy::Engine,
                    SortBy::Slippage | SortBy::Engine => SortBy::Arrival,
                };
                self.set_status(format!("sorted by {}", self.sort.label()), StatusKind::Info);
            }
            Action::CycleTheme => {
                let pos = self
                    .theme_names
                    .iter()
                    .position(|n| *n == self.theme.name)
                    .map_or(0, |p| p + 1);
                if let Some(name) = self.theme_names.get(pos % self.theme_names.len().max(1)) {
                    return vec![Effect::LoadTheme(name.clone())];
                }
            }
            Action::Quit => {
                self.should_quit = true;
                return vec![Effect::Quit];
            }
            Action::PauseResume => return self.pause_resume_target(),
            Action::Retune => self.open_retune(),
            Action::Override => self.open_override(),
            Action::ReleaseOverride => {
                if let Some(id) = self.target_order_id() {
                    return self.send(Command::ReleaseOverride { order_id: id });
                }
            }
            Action::Cancel => {
                if let Some(order_id) = self.order_for_command() {
                    self.ask(ConfirmKind::Cancel { order_id }, opened_by);
                }
            }
            Action::KillSwitch => {
                if self.commands_allowed() {
                    let kind = if self.fleet.len() > 1 {
                        let selected = self.selected_order_id().and_then(|id| {
                            crate::protocol::bus::split_qualified(&id).map(|(e, _)| e.to_string())
                        });
                        ConfirmKind::KillSwitchOn {
                            engine: selected.clone(),
                            selected,
                            engines: self.fleet.len(),
                        }
                    } else {
                        ConfirmKind::KillSwitch
                    };
                    self.ask(kind, opened_by);
                }
            }
            Action::ResumeAll => return self.send(Command::ResumeAll),
            Action::ModelSwitch => {
                if let Some(kind) = self.model_switch_for_target() {
                    self.ask(kind, opened_by);
                }
            }
        }
        Vec::new()
    }

    /// The model kill switch (or its undo) for the selected order's model.
    pub(super) fn model_switch_for_target(&mut self) -> Option<ConfirmKind> {
        let order_id = self.order_for_command()?;
        let view = &self.live.view;
        let Some(served) = view.order(&order_id).and_then(|o| o.info.model.clone()) else {
            self.report_error(format!("{order_id} is not served by a model"));
            return None;
        };
        let state = view.model(&served.name);
        Some(match state.map(|m| m.guard) {
            Some(GuardState::Killed) | Some(GuardState::Tripped) => {
                ConfirmKind::RestoreModel { model: served.name }
            }
            _ => ConfirmKind::KillModel {
                orders: state.map_or(0, |m| m.orders),
                model: served.name,
            },
        })
    }

    pub(super) fn move_selection(&mut self, delta: i64) {
        let rows = self.visible_orders();
        if rows.is_empty() {
            return;
        }
        let current = self.selected_index(&rows).unwrap_or(0) as i64;
        let next = (current.saturating_add(delta)).clamp(0, rows.len() as i64 - 1) as usize;
        self.selected = Some(self.shown().view.orders[rows[next]].info.order_id.clone());
    }

    /// Why commands are disabled right now, if they are.
    pub fn commands_disabled_reason(&self) -> Option<&str> {
        if let Some(why) = &self.replay {
            Some(why)
        } else if !self.live.can_command() {
            Some("read-only: connected as viewer, commands are disabled")
        } else if self.link.link != Link::Live {
            Some("not connected: commands are disabled until the link is back")
        } else {
            None
        }
    }

    pub(super) fn commands_allowed(&mut self) -> bool {
        match self.commands_disabled_reason().map(str::to_string) {
            Some(why) => {
                self.report_error(why);
                false
            }
            None => true,
        }
    }

    /// The selected order, if commands may be sent about it.
    /// The order an action acts on: the one named, or the selected one.
    pub(super) fn target_order_id(&self) -> Option<String> {
        self.target.clone().or_else(|| self.selected_order_id())
    }

    pub(super) fn order_for_command(&mut self) -> Option<String> {
        if !self.commands_allowed() {
            return None;
        }
        let id = self.target_order_id();
        if id.is_none() {
            self.report_error("no order selected");
        }
        id
    }

    pub(super) fn ask(&mut self, kind: ConfirmKind, opened_by: KeySpec) {
        self.mode = Mode::Confirm(Confirm {
            kind,
            yes_focused: false,
            opened_by,
        });
    }

    pub(super) fn pause_resume_target(&mut self) -> Vec<Effect> {
        let Some(order_id) = self.order_for_command() else {
            return Vec::new();
        };
        let state = self.live.view.order(&order_id).map(|o| o.state);
        match state {
            Some(s) if s.is_terminal() => {
                self.report_error(format!(
                    "{order_id} is {}: nothing to pause",
                    state_label(s)
                ));
                Vec::new()
            }
            Some(OrderState::Paused) => self.send(Command::Resume { order_id }),
            _ => self.send(Command::Pause { order_id }),
        }
    }

    pub(super) fn open_retune(&mut self) {
        let Some(id) = self.order_for_command() else {
            return;
        };
        let Some(order) = self.live.view.order(&id) else {
            return;
        };
        let venues = self
            .live
            .view
            .instrument(&order.info.symbol)
            .map(|i| i.venues.iter().map(|v| v.name.clone()).collect())
            .unwrap_or_default();
        self.mode = Mode::Retune(RetuneForm::for_order(order, venues));
    }

    pub(super) fn open_override(&mut self) {
        let Some(id) = self.order_for_command() else {
            return;
        };
        let mut strategies: Vec<String> = Vec::new();
        for o in &self.live.view.orders {
            if !strategies.contains(&o.info.strategy) {
                strategies.push(o.info.strategy.clone());
            }
        }
        self.mode = Mode::Override(OverrideForm::new(
            id,
            &self.live.view.contract.actions,
            &strategies,
        ));
    }

    /// Send a command (if allowed): it shows as pending until its ack.
    pub fn send(&mut self, command: Command) -> Vec<Effect> {
        if !self.commands_allowed() {
            return Vec::new();
        }
        let id = format!("c{}", self.next_command);
        self.next_command += 1;
        self.live.command_sent(id.clone(), command.clone());
        self.set_status(
            format!(
                "sent {} — waiting for ack",
                crate::protocol::text::describe_command(&command)
            ),
            StatusKind::Info,
        );
        vec![Effect::Send(ClientMessage::Command { id, command })]
    }
}
