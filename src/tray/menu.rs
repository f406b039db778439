//! The icon and its menu, the same on every desktop: built from `tray-icon` on the thread that
//! runs the platform's loop (GTK's on Linux, the window's message loop on Windows), updated from
//! [`TrayState`]s, and a click turned into an [`Action`] for that platform's code to carry out.

use tray_icon::menu::{CheckMenuItem, Menu, MenuId, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use super::{TrayConfig, TrayState};

/// What a menu click asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// 開啟元件檢測: the self-check page in the default browser.
    Open,
    /// 匯出診斷資料: write the diagnostics bundle and show it.
    Export,
    /// 開機時自動啟動, with the check box's new value.
    Autostart(bool),
    /// 結束.
    Quit,
}

fn state_icon(state: TrayState) -> Option<Icon> {
    Icon::from_rgba(state.icon_rgba(), 32, 32).ok()
}

/// The icon and its menu items (owned by the loop's thread).
pub struct Tray {
    icon: TrayIcon,
    status: MenuItem,
    open: MenuItem,
    export: MenuItem,
    autostart: Option<CheckMenuItem>,
    quit: MenuItem,
}

impl Tray {
    /// The icon, showing "insert the card" until the first state arrives. `autostart`: the
    /// check box's value, or `None` for no such entry (Windows keeps it in Task Manager's
    /// Startup apps).
    pub fn build(config: &TrayConfig, autostart: Option<bool>) -> Result<Tray, String> {
        let menu = Menu::new();
        let status = MenuItem::new(TrayState::NoCard.text(), false, None);
        let open = MenuItem::new("開啟元件檢測 Open the self-check", true, None);
        let export = MenuItem::new("匯出診斷資料 Export diagnostics", true, None);
        let autostart =
            autostart.map(|on| CheckMenuItem::new("開機時自動啟動 Start at login", true, on, None));
        let about = MenuItem::new(
            format!(
                "關於 About: nhi-bridge {}（埠 port {}）",
                env!("CARGO_PKG_VERSION"),
                config.port
            ),
            false,
            None,
        );
        let quit = MenuItem::new("結束 Quit", true, None);
        let separator = PredefinedMenuItem::separator();
        let separator2 = PredefinedMenuItem::separator();
        let mut items: Vec<&dyn tray_icon::menu::IsMenuItem> =
            vec![&status, &separator, &open, &export];
        if let Some(a) = &autostart {
            items.push(a);
        }
        items.extend([
            &separator2 as &dyn tray_icon::menu::IsMenuItem,
            &about,
            &quit,
        ]);
        menu.append_items(&items).map_err(|e| e.to_string())?;
        let icon = TrayIconBuilder::new()
            .with_id("nhi-bridge")
            .with_menu(Box::new(menu))
            .with_title("nhi-bridge")
            .with_tooltip(TrayState::NoCard.text())
            .with_icon(state_icon(TrayState::NoCard).ok_or("icon")?)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Tray {
            icon,
            status,
            open,
            export,
            autostart,
            quit,
        })
    }

    /// Shows `state`: icon, tooltip and the menu's first line.
    pub fn show(&self, state: TrayState) {
        let _ = self.icon.set_icon(state_icon(state));
        let _ = self.icon.set_tooltip(Some(state.text()));
        self.status.set_text(state.text());
    }

    /// What a click on the item `id` asks for (`None`: not one of ours).
    pub fn action(&self, id: &MenuId) -> Option<Action> {
        if id == self.open.id() {
            Some(Action::Open)
        } else if id == self.export.id() {
            Some(Action::Export)
        } else if id == self.quit.id() {
            Some(Action::Quit)
        } else {
            self.autostart
                .as_ref()
                .filter(|a| id == a.id())
                .map(|a| Action::Autostart(a.is_checked()))
        }
    }
}
