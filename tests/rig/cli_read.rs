//! `nhi-bridge read` and `readers` against simulated cards through the real pcscd.

use crate::support::*;

fn roc_to_iso(roc: &str) -> String {
    let y: u32 = roc[0..3].parse().expect("roc year");
    format!("{}-{}-{}", y + 1911, &roc[3..5], &roc[5..7])
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn reads_the_sample_card_as_json() {
    let _rig = rig();
    let sim = Sim::start(SLOT0, &[]);
    let out = bridge(&["read", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = json(&out);
    let p = sample();
    assert_eq!(v["reader"], SLOT0.reader);
    assert_eq!(v["card_no"], p.card_no.as_str());
    assert_eq!(v["name"], p.name.as_str());
    assert_eq!(v["id_no"], p.id_no.as_str());
    assert_eq!(v["birth_date_roc"], p.birth_date.as_str());
    assert_eq!(v["birth_date"], roc_to_iso(&p.birth_date).as_str());
    assert_eq!(v["issue_date_roc"], p.issue_date.as_str());
    assert_eq!(v["issue_date"], roc_to_iso(&p.issue_date).as_str());
    assert_eq!(v["sex"], p.sex.as_str());
    assert_eq!(v["card_data"], p.card_data.as_str());
    // SELECT first, then the profile and the card data: nothing else touches the card.
    assert_eq!(
        sim.apdus(),
        [SELECT_HC, "00CA110002000000", "00CA240002000000"]
    );
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn reads_another_holder_four_character_name_leap_day() {
    let _rig = rig();
    let profile = r#"
card_no = "987654321098"
name = "歐陽美玲"
id_no = "F287654321"
birth_date = "0850229"
sex = "F"
issue_date = "1130704"
card_data = "1ABCDEFG"
"#;
    let _sim = Sim::start_with_profile(SLOT1, Some(profile), &[]);
    let out = bridge(&["read", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(v["reader"], SLOT1.reader);
    assert_eq!(v["card_no"], "987654321098");
    assert_eq!(v["name"], "歐陽美玲");
    assert_eq!(v["id_no"], "F287654321");
    assert_eq!(v["birth_date"], "1996-02-29");
    assert_eq!(v["birth_date_roc"], "0850229");
    assert_eq!(v["sex"], "F");
    assert_eq!(v["issue_date"], "2024-07-04");
    assert_eq!(v["card_data"], "1ABCDEFG");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn human_output_is_chinese_first_with_english() {
    let _rig = rig();
    let _sim = Sim::start(SLOT0, &[]);
    let out = bridge(&["read"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    let p = sample();
    for needle in ["姓名", "Name", "卡號", "Card number", "出生日期", "民國"] {
        assert!(s.contains(needle), "{needle} missing in:\n{s}");
    }
    assert!(s.contains(&p.name) && s.contains(&p.id_no), "{s}");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn readers_lists_both_slots_with_card_state() {
    let _rig = rig();
    let sim = Sim::start(SLOT1, &[]);
    let out = bridge(&["readers", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = json(&out);
    // The same shape as GET /v1/readers.
    let list = v["readers"].as_array().expect("readers array");
    let find = |name: &str| {
        list.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {v}"))
    };
    assert_eq!(find(SLOT0.reader)["card_present"], false);
    assert_eq!(find(SLOT1.reader)["card_present"], true);
    let atr = find(SLOT1.reader)["atr"].as_str().expect("atr").to_owned();
    assert!(atr.starts_with("3B"), "{atr}");
    // Listing readers never talks to the card.
    assert!(sim.apdus().is_empty());
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn named_reader_is_used_and_unknown_name_is_its_own_error() {
    let _rig = rig();
    let in_slot0 = Sim::start(SLOT0, &[]);
    let in_slot1 = Sim::start(SLOT1, &[]);
    let out = bridge(&["read", "--json", "--reader", SLOT1.reader]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(json(&out)["reader"], SLOT1.reader);
    assert!(in_slot0.apdus().is_empty(), "the other reader was touched");
    assert!(!in_slot1.apdus().is_empty());

    let out = bridge(&["read", "--json", "--reader", "No Such Reader 99"]);
    assert_eq!(out.status.code(), Some(10), "{}", text(&out.stderr));
    assert_eq!(json(&out)["code"], "7006");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn automatic_choice_skips_a_card_that_is_not_nhi() {
    let _rig = rig();
    let other = Sim::start(SLOT0, &["--sw", "A4=6A82"]);
    let nhi = Sim::start(SLOT1, &[]);
    let out = bridge(&["read", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(json(&out)["reader"], SLOT1.reader);
    assert_eq!(
        other.apdus(),
        [SELECT_HC],
        "only SELECT may reach a non-NHI card"
    );
    assert_eq!(nhi.apdus()[0], SELECT_HC);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn no_card_is_its_own_error() {
    let _rig = rig();
    let out = bridge(&["read", "--json"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(v["code"], "7004");
    assert!(v["message_zh"].as_str().unwrap_or("").contains("健保卡"));
    assert!(!v["message_en"].as_str().unwrap_or("").is_empty());
}
