use std::collections::BTreeMap;
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut seed: u64 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(1);
    let mut rnd = move || { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; seed };
    let mut db = northstar::Db::open(dir.path(), northstar::Options::default().verify_every_commit(true)).unwrap();
    for round in 0..300 {
        let mut txn = db.begin_write().unwrap();
        let mut m2 = model.clone();
        let n = rnd() % 200;
        for _ in 0..n {
            let k = format!("k{:06}", rnd() % 5000).into_bytes();
            if rnd() % 3 == 0 {
                let e = txn.delete(&k).unwrap();
                assert_eq!(e, m2.remove(&k).is_some());
            } else {
                let len = match rnd() % 20 { 0 => 20000 + (rnd() % 50000) as usize, 1 => 3000, _ => (rnd() % 200) as usize };
                let v = vec![(rnd() % 256) as u8; len];
                txn.put(&k, &v).unwrap();
                m2.insert(k, v);
            }
        }
        if rnd() % 5 == 0 { txn.abort(); } else { txn.commit().unwrap(); model = m2; }
        if round % 50 == 49 { drop(db); db = northstar::Db::open(dir.path(), Default::default()).unwrap(); }
        let r = db.begin_read().unwrap();
        assert_eq!(r.len() as usize, model.len());
        let got: Vec<(Vec<u8>, Vec<u8>)> = r.iter().unwrap().map(|e| { let (k, v) = e.unwrap(); (k.to_vec(), v.to_vec()) }).collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert!(got == want, "round {round}: got {} want {}", got.len(), want.len());
        let rev: Vec<Vec<u8>> = r.iter().unwrap().rev().map(|e| e.unwrap().0.to_vec()).collect();
        assert_eq!(rev.len(), want.len());
        assert!(rev.iter().rev().eq(want.iter().map(|(k, _)| k)));
    }
    let rep = db.check().unwrap();
    println!("ok {:?}", rep.trees);
}
