// Health care and social care. Written for jobbert; one title per line: en | de | es | zh
export default `
nurse | Krankenpfleger | enfermero | 护士
registered nurse | examinierte Pflegefachkraft | enfermero titulado | 注册护士
nurse practitioner | Pflegeexperte mit erweiterter Praxis | enfermero de práctica avanzada | 执业护士
head nurse | Stationsleitung Pflege | supervisor de enfermería | 护士长
intensive care nurse | Intensivpfleger | enfermero de cuidados intensivos | 重症监护护士
operating room nurse | OP-Pfleger | enfermero de quirófano | 手术室护士
paediatric nurse | Kinderkrankenpfleger | enfermero pediátrico | 儿科护士
midwife | Hebamme | matrona | 助产士
geriatric nurse | Altenpfleger | enfermero geriátrico | 老年护理员
nursing assistant | Pflegehelfer | auxiliar de enfermería | 护理助理
care worker | Betreuungskraft | cuidador | 护理员
home care aide | Haushaltshilfe in der häuslichen Pflege | auxiliar de ayuda a domicilio | 居家护理员
physician | Arzt | médico | 医生
general practitioner | Allgemeinmediziner | médico de familia | 全科医生
surgeon | Chirurg | cirujano | 外科医生
orthopaedic surgeon | Orthopäde | cirujano ortopédico | 骨科医生
cardiologist | Kardiologe | cardiólogo | 心脏病科医生
neurologist | Neurologe | neurólogo | 神经科医生
paediatrician | Kinderarzt | pediatra | 儿科医生
gynaecologist | Frauenarzt | ginecólogo | 妇科医生
psychiatrist | Psychiater | psiquiatra | 精神科医生
anaesthetist | Anästhesist | anestesista | 麻醉师
radiologist | Radiologe | radiólogo | 放射科医生
dermatologist | Hautarzt | dermatólogo | 皮肤科医生
ophthalmologist | Augenarzt | oftalmólogo | 眼科医生
oncologist | Onkologe | oncólogo | 肿瘤科医生
emergency physician | Notarzt | médico de urgencias | 急诊科医生
resident physician | Assistenzarzt | médico residente | 住院医师
chief physician | Chefarzt | médico jefe | 主任医师
dentist | Zahnarzt | dentista | 牙医
orthodontist | Kieferorthopäde | ortodoncista | 正畸医生
dental hygienist | Dentalhygieniker | higienista dental | 牙科卫生士
dental assistant | Zahnmedizinischer Fachangestellter | auxiliar de odontología | 牙科助理
dental technician | Zahntechniker | protésico dental | 牙科技师
pharmacist | Apotheker | farmacéutico | 药剂师
pharmacy technician | pharmazeutisch-technischer Assistent | técnico de farmacia | 药房技术员
physiotherapist | Physiotherapeut | fisioterapeuta | 物理治疗师
occupational therapist | Ergotherapeut | terapeuta ocupacional | 职业治疗师
speech therapist | Logopäde | logopeda | 言语治疗师
psychologist | Psychologe | psicólogo | 心理学家
psychotherapist | Psychotherapeut | psicoterapeuta | 心理治疗师
clinical psychologist | klinischer Psychologe | psicólogo clínico | 临床心理学家
dietitian | Diätassistent | dietista | 营养师
optician | Augenoptiker | óptico | 配镜师
optometrist | Optometrist | optometrista | 验光师
hearing aid acoustician | Hörakustiker | audioprotesista | 助听器验配师
paramedic | Notfallsanitäter | técnico en emergencias sanitarias | 急救医护人员
ambulance driver | Rettungswagenfahrer | conductor de ambulancia | 救护车司机
medical assistant | medizinischer Fachangestellter | asistente médico | 医疗助理
medical laboratory technician | medizinisch-technischer Laborassistent | técnico de laboratorio clínico | 医学检验技术员
radiographer | medizinisch-technischer Radiologieassistent | técnico en radiología | 放射技师
medical secretary | Arztsekretär | secretario médico | 医疗秘书
medical coder | medizinischer Kodierer | codificador clínico | 病案编码员
hospital administrator | Krankenhausverwalter | administrador de hospital | 医院管理人员
healthcare manager | Manager im Gesundheitswesen | gestor sanitario | 医疗卫生管理人员
veterinarian | Tierarzt | veterinario | 兽医
veterinary assistant | tiermedizinischer Fachangestellter | auxiliar de veterinaria | 兽医助理
social worker | Sozialarbeiter | trabajador social | 社会工作者
youth worker | Jugendarbeiter | educador juvenil | 青少年工作者
case manager | Fallmanager | gestor de casos | 个案管理员
addiction counsellor | Suchtberater | consejero en adicciones | 戒瘾咨询师
caregiver for people with disabilities | Heilerziehungspfleger | cuidador de personas con discapacidad | 残障人士护理员
nursing home manager | Pflegeheimleiter | director de residencia de mayores | 养老院院长
massage therapist | Masseur | masajista | 按摩师
chiropractor | Chiropraktiker | quiropráctico | 脊椎按摩师
podiatrist | Podologe | podólogo | 足科医生
sterile processing technician | Sterilisationsassistent | técnico de esterilización | 消毒供应技术员
clinical research associate | klinischer Monitor | monitor de ensayos clínicos | 临床监查员
epidemiologist | Epidemiologe | epidemiólogo | 流行病学家
public health officer | Amtsarzt | responsable de salud pública | 公共卫生官员
urologist | Urologe | urólogo | 泌尿科医生
endocrinologist | Endokrinologe | endocrinólogo | 内分泌科医生
gastroenterologist | Gastroenterologe | gastroenterólogo | 消化内科医生
nephrologist | Nephrologe | nefrólogo | 肾内科医生
pulmonologist | Pneumologe | neumólogo | 呼吸科医生
rheumatologist | Rheumatologe | reumatólogo | 风湿科医生
ENT specialist | HNO-Arzt | otorrinolaringólogo | 耳鼻喉科医生
pathologist | Pathologe | patólogo | 病理科医生
neurosurgeon | Neurochirurg | neurocirujano | 神经外科医生
plastic surgeon | plastischer Chirurg | cirujano plástico | 整形外科医生
cardiac surgeon | Herzchirurg | cirujano cardíaco | 心脏外科医生
oral surgeon | Oralchirurg | cirujano oral | 口腔外科医生
geriatrician | Geriater | geriatra | 老年科医生
internist | Internist | internista | 内科医生
occupational physician | Arbeitsmediziner | médico del trabajo | 职业医学医生
sports physician | Sportmediziner | médico deportivo | 运动医学医生
medical director | ärztlicher Direktor | director médico | 医务主任
hospital pharmacist | Krankenhausapotheker | farmacéutico hospitalario | 医院药剂师
psychiatric nurse | psychiatrische Pflegefachkraft | enfermero psiquiátrico | 精神科护士
community nurse | Gemeindepflegefachkraft | enfermero comunitario | 社区护士
dialysis nurse | Dialysepflegefachkraft | enfermero de diálisis | 透析护士
anaesthesia nurse | Anästhesiepflegefachkraft | enfermero de anestesia | 麻醉科护士
school nurse | Schulgesundheitsfachkraft | enfermero escolar | 学校护士
palliative care nurse | Palliativpflegefachkraft | enfermero de cuidados paliativos | 安宁疗护护士
infection control nurse | Hygienefachkraft | enfermero de control de infecciones | 感染控制护士
phlebotomist | Fachkraft für Blutentnahme | flebotomista | 采血员
surgical technologist | Operationstechnischer Assistent | técnico de quirófano | 手术室技师
anaesthesia technician | Anästhesietechnischer Assistent | técnico de anestesia | 麻醉技师
sonographer | Sonograf | ecografista | 超声技师
nuclear medicine technologist | Nuklearmedizintechniker | técnico de medicina nuclear | 核医学技师
respiratory therapist | Atmungstherapeut | terapeuta respiratorio | 呼吸治疗师
art therapist | Kunsttherapeut | arteterapeuta | 艺术治疗师
music therapist | Musiktherapeut | musicoterapeuta | 音乐治疗师
osteopath | Osteopath | osteópata | 整骨治疗师
naturopath | Heilpraktiker | naturópata | 自然疗法师
acupuncturist | Akupunkteur | acupuntor | 针灸师
mental health counsellor | psychologischer Berater | consejero de salud mental | 心理健康咨询师
genetic counsellor | genetischer Berater | asesor genético | 遗传咨询师
nutritionist | Ernährungsberater | nutricionista | 营养顾问
orthotist | Orthopädietechniker | técnico ortoprotésico | 矫形器技师
audiologist | Audiologe | audiólogo | 听力师
medical receptionist | Empfangskraft in der Arztpraxis | recepcionista de clínica | 医疗前台
hospital porter | Patientenbegleiter | celador | 医院护送员
emergency medical technician | Rettungssanitäter | técnico de emergencias médicas | 急救医疗技术员
medical physicist | Medizinphysiker | físico médico | 医学物理师
biomedical engineer | Medizintechnik-Ingenieur | ingeniero biomédico | 生物医学工程师
child psychologist | Kinderpsychologe | psicólogo infantil | 儿童心理学家
neuropsychologist | Neuropsychologe | neuropsicólogo | 神经心理学家
clinic manager | Klinikmanager | gerente de clínica | 诊所经理
`;
