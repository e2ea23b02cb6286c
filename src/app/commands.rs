//! The one registry of the workbench's commands: each [`UiCommand`] carries its label, its
//! keyboard shortcuts, its tooltip and its help text. The key handling, the buttons' tooltips and
//! the F1 panel are all generated from it. No egui types: shortcuts are plain [`Shortcut`]s, which
//! the UI matches against its key events.

use super::effect_preview::EffectKind;
use super::state::Tool;

/// A key of a shortcut (the subset the workbench binds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyName {
    /// A letter key, upper case.
    Letter(char),
    /// A digit key.
    Digit(u8),
    /// `[`.
    OpenBracket,
    /// `]`.
    CloseBracket,
    /// `+`.
    Plus,
    /// `=` (the unshifted `+` key).
    Equals,
    /// `-`.
    Minus,
    /// `,`.
    Comma,
    /// `.`.
    Period,
    /// Enter.
    Enter,
    /// Escape.
    Escape,
    /// Delete.
    Delete,
    /// Backspace.
    Backspace,
    /// Page Up.
    PageUp,
    /// Page Down.
    PageDown,
    /// F1.
    F1,
}

impl KeyName {
    /// How the key is written in help texts.
    pub fn text(self) -> String {
        match self {
            KeyName::Letter(c) => c.to_string(),
            KeyName::Digit(d) => d.to_string(),
            KeyName::OpenBracket => "[".into(),
            KeyName::CloseBracket => "]".into(),
            KeyName::Plus => "+".into(),
            KeyName::Equals => "=".into(),
            KeyName::Minus => "-".into(),
            KeyName::Comma => ",".into(),
            KeyName::Period => ".".into(),
            KeyName::Enter => "Enter".into(),
            KeyName::Escape => "Esc".into(),
            KeyName::Delete => "Delete".into(),
            KeyName::Backspace => "Backspace".into(),
            KeyName::PageUp => "Page Up".into(),
            KeyName::PageDown => "Page Down".into(),
            KeyName::F1 => "F1".into(),
        }
    }
}

/// A key with its modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortcut {
    /// Ctrl (Cmd on macOS) held.
    pub command: bool,
    /// Shift held.
    pub shift: bool,
    /// The key.
    pub key: KeyName,
}

const fn key(key: KeyName) -> Shortcut {
    Shortcut {
        command: false,
        shift: false,
        key,
    }
}

const fn ctrl(key: KeyName) -> Shortcut {
    Shortcut {
        command: true,
        shift: false,
        key,
    }
}

const fn ctrl_shift(key: KeyName) -> Shortcut {
    Shortcut {
        command: true,
        shift: true,
        key,
    }
}

impl Shortcut {
    /// How the shortcut is written ("Ctrl+Shift+Z").
    pub fn text(&self) -> String {
        let mut s = String::new();
        if self.command {
            s.push_str("Ctrl+");
        }
        if self.shift {
            s.push_str("Shift+");
        }
        s + &self.key.text()
    }

    /// Whether a key press with these modifiers triggers the shortcut. A plain-key shortcut
    /// ignores Shift (so `+` typed as Shift+= works) but not Ctrl.
    pub fn matches(&self, key: KeyName, command: bool, shift: bool) -> bool {
        self.key == key && self.command == command && (!self.command || self.shift == shift)
    }
}

/// Every command of the workbench that has a shortcut, a menu entry or a help line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiCommand {
    /// Undo the last edit of the image.
    Undo,
    /// Redo.
    Redo,
    /// Save the project.
    Save,
    /// Save under the path of the path field.
    SaveAs,
    /// Open a project, image or folder.
    Open,
    /// Start an empty project.
    NewProject,
    /// Set the image's status.
    SetStatus(u8),
    /// Choose a tool.
    Tool(Tool),
    /// Smaller brush.
    BrushSmaller,
    /// Larger brush.
    BrushLarger,
    /// Close the polygon being drawn and fill it.
    ClosePolygon,
    /// Cancel the polygon, deselect.
    Cancel,
    /// Delete the selected box.
    DeleteBox,
    /// Next image.
    NextImage,
    /// Previous image.
    PrevImage,
    /// Zoom in.
    ZoomIn,
    /// Zoom out.
    ZoomOut,
    /// Fit the image to the panes.
    Fit,
    /// One image pixel per screen pixel.
    OneToOne,
    /// Show or hide the help.
    Help,
    /// Choose an effect and open the Effects section.
    Effect(EffectKind),
    /// Apply the effect previewed.
    ApplyEffect,
    /// Turn "brush and eraser only within the threshold's range" on or off.
    PaintWithinRange,
    /// DICOM window: a CT preset (0..6, [`crate::io::dicom::CT_PRESETS`]) or, at 6, the file's
    /// own window.
    Window(u8),
}

use KeyName as K;

/// A `&'static [Shortcut]` from const expressions.
macro_rules! keys {
    ($($s:expr),*) => {{
        const KEYS: &[Shortcut] = &[$($s),*];
        KEYS
    }};
}

impl UiCommand {
    /// Every command, in help order.
    pub const ALL: [UiCommand; 44] = [
        UiCommand::Tool(Tool::Select),
        UiCommand::Tool(Tool::Box),
        UiCommand::Tool(Tool::Brush),
        UiCommand::Tool(Tool::Eraser),
        UiCommand::Tool(Tool::Polygon),
        UiCommand::Tool(Tool::Fill),
        UiCommand::BrushSmaller,
        UiCommand::BrushLarger,
        UiCommand::ClosePolygon,
        UiCommand::Cancel,
        UiCommand::DeleteBox,
        UiCommand::Effect(EffectKind::Threshold),
        UiCommand::Effect(EffectKind::Islands),
        UiCommand::Effect(EffectKind::Margin),
        UiCommand::Effect(EffectKind::Smoothing),
        UiCommand::Effect(EffectKind::FillHoles),
        UiCommand::Effect(EffectKind::Grow),
        UiCommand::Effect(EffectKind::Scissors),
        UiCommand::Effect(EffectKind::FromMap),
        UiCommand::PaintWithinRange,
        UiCommand::ApplyEffect,
        UiCommand::Undo,
        UiCommand::Redo,
        UiCommand::Save,
        UiCommand::SaveAs,
        UiCommand::Open,
        UiCommand::NewProject,
        UiCommand::SetStatus(0),
        UiCommand::SetStatus(1),
        UiCommand::SetStatus(2),
        UiCommand::SetStatus(3),
        UiCommand::NextImage,
        UiCommand::PrevImage,
        UiCommand::ZoomIn,
        UiCommand::ZoomOut,
        UiCommand::Fit,
        UiCommand::OneToOne,
        UiCommand::Window(0),
        UiCommand::Window(1),
        UiCommand::Window(2),
        UiCommand::Window(3),
        UiCommand::Window(4),
        UiCommand::Window(5),
        UiCommand::Window(6),
    ];

    /// Label of its button or menu entry.
    pub fn label(self) -> &'static str {
        match self {
            UiCommand::Undo => "Undo",
            UiCommand::Redo => "Redo",
            UiCommand::Save => "Save",
            UiCommand::SaveAs => "Save as",
            UiCommand::Open => "Open project, image or folder",
            UiCommand::NewProject => "New project",
            UiCommand::SetStatus(0) => "to do",
            UiCommand::SetStatus(1) => "in progress",
            UiCommand::SetStatus(2) => "done",
            UiCommand::SetStatus(_) => "flagged",
            UiCommand::Tool(t) => t.name(),
            UiCommand::BrushSmaller => "Smaller brush",
            UiCommand::BrushLarger => "Larger brush",
            UiCommand::ClosePolygon => "Close polygon",
            UiCommand::Cancel => "Cancel",
            UiCommand::DeleteBox => "Delete box",
            UiCommand::NextImage => "Next >",
            UiCommand::PrevImage => "< Prev",
            UiCommand::ZoomIn => "Zoom in",
            UiCommand::ZoomOut => "Zoom out",
            UiCommand::Fit => "Fit",
            UiCommand::OneToOne => "1:1",
            UiCommand::Help => "Help",
            UiCommand::Effect(k) => k.name(),
            UiCommand::ApplyEffect => "Apply effect",
            UiCommand::PaintWithinRange => "Paint within range",
            UiCommand::Window(i) => crate::io::dicom::CT_PRESETS
                .get(i as usize)
                .map_or("file window", |p| p.0),
        }
    }

    /// Its shortcuts, the first one shown in labels.
    pub fn shortcuts(self) -> &'static [Shortcut] {
        match self {
            UiCommand::Undo => keys!(ctrl(K::Letter('Z'))),
            UiCommand::Redo => keys!(ctrl_shift(K::Letter('Z')), ctrl(K::Letter('Y'))),
            UiCommand::Save => keys!(ctrl(K::Letter('S'))),
            UiCommand::SaveAs | UiCommand::Open | UiCommand::NewProject => &[],
            UiCommand::SetStatus(0) => keys!(ctrl(K::Digit(1))),
            UiCommand::SetStatus(1) => keys!(ctrl(K::Digit(2))),
            UiCommand::SetStatus(2) => keys!(ctrl(K::Digit(3))),
            UiCommand::SetStatus(_) => keys!(ctrl(K::Digit(4))),
            UiCommand::Tool(Tool::Select) => keys!(key(K::Letter('V'))),
            UiCommand::Tool(Tool::Box) => keys!(key(K::Letter('B'))),
            UiCommand::Tool(Tool::Brush) => keys!(key(K::Letter('D'))),
            UiCommand::Tool(Tool::Eraser) => keys!(key(K::Letter('E'))),
            UiCommand::Tool(Tool::Polygon) => keys!(key(K::Letter('G'))),
            UiCommand::Tool(Tool::Fill) => keys!(key(K::Letter('F'))),
            UiCommand::BrushSmaller => keys!(key(K::OpenBracket)),
            UiCommand::BrushLarger => keys!(key(K::CloseBracket)),
            UiCommand::ClosePolygon => keys!(key(K::Enter)),
            UiCommand::Cancel => keys!(key(K::Escape)),
            UiCommand::DeleteBox => keys!(key(K::Delete), key(K::Backspace)),
            UiCommand::NextImage => keys!(key(K::PageDown), key(K::Period)),
            UiCommand::PrevImage => keys!(key(K::PageUp), key(K::Comma)),
            UiCommand::ZoomIn => keys!(key(K::Plus), key(K::Equals)),
            UiCommand::ZoomOut => keys!(key(K::Minus)),
            UiCommand::Fit => keys!(key(K::Digit(0))),
            UiCommand::OneToOne => keys!(key(K::Digit(1))),
            UiCommand::Help => keys!(key(K::F1)),
            UiCommand::Effect(EffectKind::Threshold) => keys!(key(K::Letter('T'))),
            UiCommand::Effect(EffectKind::Islands) => keys!(key(K::Letter('I'))),
            UiCommand::Effect(EffectKind::Margin) => keys!(key(K::Letter('M'))),
            UiCommand::Effect(EffectKind::Smoothing) => keys!(key(K::Letter('S'))),
            UiCommand::Effect(EffectKind::FillHoles) => keys!(key(K::Letter('H'))),
            UiCommand::Effect(EffectKind::Grow) => keys!(key(K::Letter('W'))),
            UiCommand::Effect(EffectKind::Scissors) => keys!(key(K::Letter('X'))),
            UiCommand::Effect(EffectKind::FromMap) => keys!(key(K::Letter('K'))),
            UiCommand::ApplyEffect => keys!(ctrl(K::Enter)),
            UiCommand::PaintWithinRange => keys!(key(K::Letter('R'))),
            UiCommand::Window(0) => keys!(key(K::Digit(2))),
            UiCommand::Window(1) => keys!(key(K::Digit(3))),
            UiCommand::Window(2) => keys!(key(K::Digit(4))),
            UiCommand::Window(3) => keys!(key(K::Digit(5))),
            UiCommand::Window(4) => keys!(key(K::Digit(6))),
            UiCommand::Window(5) => keys!(key(K::Digit(7))),
            UiCommand::Window(_) => keys!(key(K::Digit(8))),
        }
    }

    /// What it does, for tooltips and the help panel.
    pub fn help(self) -> &'static str {
        match self {
            UiCommand::Undo => "Undo the last edit of this image (500 steps)",
            UiCommand::Redo => "Redo the edit undone last",
            UiCommand::Save => "Save the project (asks for a path when untitled)",
            UiCommand::SaveAs => "Save the project under the path typed in the path field",
            UiCommand::Open => "Open the project, image or folder typed in the path field",
            UiCommand::NewProject => "Start an empty project with the bundled model",
            UiCommand::SetStatus(0) => "Status: to do",
            UiCommand::SetStatus(1) => "Status: in progress",
            UiCommand::SetStatus(2) => "Status: done",
            UiCommand::SetStatus(_) => "Status: flagged (needs a second look)",
            UiCommand::Tool(Tool::Select) => {
                "Select / move / resize boxes; drag empty space to pan"
            }
            UiCommand::Tool(Tool::Box) => "Draw a box by dragging",
            UiCommand::Tool(Tool::Brush) => "Paint the mask (size: [ and ])",
            UiCommand::Tool(Tool::Eraser) => "Erase the mask (size: [ and ])",
            UiCommand::Tool(Tool::Polygon) => {
                "Click vertices; Enter or double-click fills, Esc cancels"
            }
            UiCommand::Tool(Tool::Fill) => "Fill the connected region under the cursor",
            UiCommand::BrushSmaller => "Brush radius ÷ 1.25",
            UiCommand::BrushLarger => "Brush radius × 1.25",
            UiCommand::ClosePolygon => "Close the polygon and fill it",
            UiCommand::Cancel => "Cancel the polygon, deselect the box",
            UiCommand::DeleteBox => "Delete the selected box",
            UiCommand::NextImage => "Next image",
            UiCommand::PrevImage => "Previous image",
            UiCommand::ZoomIn => "Zoom in (or the mouse wheel)",
            UiCommand::ZoomOut => "Zoom out (or the mouse wheel)",
            UiCommand::Fit => "Fit the image to the panes",
            UiCommand::OneToOne => "One image pixel per screen point",
            UiCommand::Help => "Show or hide this help",
            UiCommand::Effect(EffectKind::Threshold) => {
                "Effect — the pixels whose value lies in the range (invert: outside)"
            }
            UiCommand::Effect(EffectKind::Islands) => {
                "Effect — keep the largest, drop the small ones, or keep the one clicked"
            }
            UiCommand::Effect(EffectKind::Margin) => {
                "Effect — grow or shrink the class by a distance in mm"
            }
            UiCommand::Effect(EffectKind::Smoothing) => {
                "Effect — median, gaussian (mm), opening or closing (px)"
            }
            UiCommand::Effect(EffectKind::FillHoles) => {
                "Effect — every hole that does not reach the border"
            }
            UiCommand::Effect(EffectKind::Grow) => {
                "Effect — seed strokes in two or more classes flood the image"
            }
            UiCommand::Effect(EffectKind::Scissors) => {
                "Effect — draw an outline (clicks or freehand); erase inside / outside or fill"
            }
            UiCommand::Effect(EffectKind::FromMap) => {
                "Effect — the map's top-k % region into the class"
            }
            UiCommand::ApplyEffect => "Apply the effect previewed (one edit: Undo takes it back)",
            UiCommand::PaintWithinRange => {
                "Brush and eraser change only the pixels in the threshold's range (on / off)"
            }
            UiCommand::Window(0) => "DICOM window: brain (C 40, W 80)",
            UiCommand::Window(1) => "DICOM window: lung (C -600, W 1500)",
            UiCommand::Window(2) => "DICOM window: mediastinum (C 50, W 350)",
            UiCommand::Window(3) => "DICOM window: bone (C 400, W 1800)",
            UiCommand::Window(4) => "DICOM window: abdomen (C 40, W 400)",
            UiCommand::Window(5) => "DICOM window: liver (C 60, W 160)",
            UiCommand::Window(_) => "DICOM window: the file's own (else the frame's range)",
        }
    }

    /// Label with its first shortcut: "Box (B)".
    pub fn label_with_shortcut(self) -> String {
        match self.shortcuts().first() {
            Some(s) => format!("{} ({})", self.label(), s.text()),
            None => self.label().to_string(),
        }
    }

    /// Tooltip: the help text and every shortcut.
    pub fn tooltip(self) -> String {
        let keys = self.keys_text();
        if keys.is_empty() {
            self.help().to_string()
        } else {
            format!("{} ({keys})", self.help())
        }
    }

    /// Every shortcut, "Ctrl+Shift+Z / Ctrl+Y".
    pub fn keys_text(self) -> String {
        self.shortcuts()
            .iter()
            .map(Shortcut::text)
            .collect::<Vec<_>>()
            .join(" / ")
    }

    /// The command bound to a key press, if any.
    pub fn for_key(key: KeyName, command: bool, shift: bool) -> Option<UiCommand> {
        Self::ALL
            .into_iter()
            .chain([UiCommand::Help])
            .find(|c| c.shortcuts().iter().any(|s| s.matches(key, command, shift)))
    }
}

/// Help lines for input that is not a command (pointer gestures), shown after the commands.
pub const POINTER_HELP: [(&str, &str); 7] = [
    ("wheel", "zoom about the cursor"),
    ("middle-drag, drag (Select)", "pan"),
    ("right-drag", "DICOM window / level"),
    (
        "Shift + drag",
        "measure a length (mm with the file's pixel spacing)",
    ),
    ("double-click (Polygon)", "close and fill the polygon"),
    (
        "click, drag (Effects: Scissors)",
        "outline vertices, or a freehand outline; Enter / double-click closes it",
    ),
    (
        "click (Effects: Islands, keep the one clicked)",
        "the island to keep",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shortcut_triggers_exactly_its_command() {
        let mut seen = Vec::new();
        for c in UiCommand::ALL.into_iter().chain([UiCommand::Help]) {
            for s in c.shortcuts() {
                assert_eq!(
                    UiCommand::for_key(s.key, s.command, s.shift),
                    Some(c),
                    "{}",
                    s.text()
                );
                assert!(!seen.contains(s), "{} bound twice", s.text());
                seen.push(*s);
            }
        }
        // Ctrl+1 sets a status; a plain 1 is 1:1.
        assert_eq!(
            UiCommand::for_key(KeyName::Digit(1), true, false),
            Some(UiCommand::SetStatus(0))
        );
        assert_eq!(
            UiCommand::for_key(KeyName::Digit(1), false, false),
            Some(UiCommand::OneToOne)
        );
        // Ctrl+B is nothing (a plain B is the box tool).
        assert_eq!(UiCommand::for_key(KeyName::Letter('B'), true, false), None);
        assert_eq!(
            UiCommand::Tool(Tool::Box).label_with_shortcut(),
            "Box (B)".to_string()
        );
        assert_eq!(UiCommand::Redo.keys_text(), "Ctrl+Shift+Z / Ctrl+Y");
    }
}
